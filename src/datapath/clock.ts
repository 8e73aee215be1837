// The datapath's clock: epoch milliseconds with sub-ms resolution, read once per pass by the
// runner (the `nowMs` every datapath call takes) and once per batch by the fd ports (Packet.tsMs).
// Limiters compare the two (qos/limiter.ts arrivalMs), so both must come from here. It is
// performance.timeOrigin + performance.now(): monotonic, so it may drift from CLOCK_REALTIME by
// whatever NTP slewed since start; a port that stamps frames with a kernel CLOCK_REALTIME time
// (the TPACKET ring) converts with the offset realtime - epochNowMs() taken at the same read.
const TIME_ORIGIN_MS = performance.timeOrigin;   // a getter that calls into C++: read once

export function epochNowMs(): number { return TIME_ORIGIN_MS + performance.now(); }
