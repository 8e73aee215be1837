// Max-min fair sharing with minimums, maximums and weights (water-filling): the split behind a
// channel group inside the switch (src/qos/channel-group.ts) and behind a channel the controller
// spreads over several switches (src/controller/split.ts).

/** A member's inputs to the split, all in one unit (bytes/s, bits/s or packets/s). `demand` Infinity: it takes whatever it is given. */
export interface ShareInput { demand: number; min: number; max: number; weight: number }

/**
 * Max-min fair shares with minimums and weights (water-filling), in the inputs' unit: every member first
 * gets min(demand, min) (mins scaled down together if they exceed the total), then what is left
 * goes to the members that want more, in proportion to their weights, each capped at
 * min(demand, max); a member's cap reached, its unused part goes round again. Pure; allocates
 * only its result.
 */
export function shareRates(total: number, m: readonly ShareInput[], out: Float64Array = new Float64Array(m.length)): Float64Array {
  const n = m.length;
  let sumMin = 0;
  for (let i = 0; i < n; i++) sumMin += Math.min(m[i].demand, m[i].min);
  const scale = sumMin > total ? total / sumMin : 1;
  let left = total;
  for (let i = 0; i < n; i++) { out[i] = Math.min(m[i].demand, m[i].min) * scale; left -= out[i]; }
  for (let round = 0; round < n && left > total * 1e-9; round++) {
    let wsum = 0;
    for (let i = 0; i < n; i++) if (out[i] < Math.min(m[i].demand, m[i].max)) wsum += m[i].weight;
    if (wsum === 0) break;
    let given = 0;
    for (let i = 0; i < n; i++) {
      const cap = Math.min(m[i].demand, m[i].max);
      if (out[i] >= cap) continue;
      const add = Math.min(cap - out[i], (left * m[i].weight) / wsum);
      out[i] += add; given += add;
    }
    left -= given;
    if (given === 0) break;
  }
  return out;
}
