// Loader and types for sluice_io.node, the N-API I/O addon (sluice_io.cc): TAP, AF_PACKET, batched
// recv/send and uv_poll readiness. Works from src/ (tsx, vitest) and from dist/: the package root is
// found by walking up to package.json. Without the addon only replay/memory ports work.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** libuv readiness poller on one fd. cb(status, events): status < 0 is a libuv error (POLLERR). */
export interface NativePoller {
  start(): void;
  stop(): void;
  /** Stops and frees the handle; call before closing the fd. Idempotent. */
  close(): void;
}

export interface NativeBinding {
  /**
   * Create or attach TAP `name` (IFF_TAP|IFF_NO_PI, O_NONBLOCK); optional TUNSETPERSIST. vnet:
   * IFF_VNET_HDR (a 10-byte virtio-net header before every frame read or written) and
   * TUNSETOFFLOAD with the widest of CSUM|TSO4|TSO6|TSO_ECN|USO4|USO6 the kernel takes
   * (`offloads`: the TUN_F_* bits set). Older addons ignore vnet and return no vnetHdr.
   */
  tapOpen(name: string, persist: boolean, vnet?: boolean): { fd: number; name: string; vnetHdr?: boolean; offloads?: number };
  tapSetPersist(fd: number, name: string, on: boolean): void;
  /**
   * AF_PACKET SOCK_RAW ETH_P_ALL bound to `ifname`, promisc, auxdata, ignore-outgoing, rcvbuf.
   * With ringFrameSize (a power of two >= 2048) and ringFrames: a TPACKET_V2 RX ring mapped before
   * bind, read through recvBatch with KIND_RING (no syscall per read; 802.1Q tags restored from
   * tp_vlan_tci). ringFrames in the result is what was set up (0: no ring).
   */
  packetOpen(ifname: string, rcvbufBytes: number, ringFrameSize?: number, ringFrames?: number, vnet?: boolean):
    { fd: number; ifindex: number; rcvbufBytes: number; ignoreOutgoing: boolean; ringFrameSize: number; ringFrames: number; vnetHdr?: boolean };
  /** Closes the fd (and unmaps its RX ring, if any). */
  closeFd(fd: number): void;
  /**
   * PACKET_STATISTICS since the previous call (the kernel resets them on read), added into
   * out[0] (frames queued to the socket/ring) and out[1] (frames the socket dropped: buffer or
   * ring full). False when fd is not a packet socket.
   */
  packetStats(fd: number, out: Float64Array): boolean;
  /** IFF_* flags of a device in this network namespace; throws (code ENODEV) when absent. */
  ifFlags(name: string): number;
  /** Set or clear IFF_UP (SIOCGIFFLAGS + SIOCSIFFLAGS); throws EPERM without CAP_NET_ADMIN, ENODEV when absent. */
  ifSetUp(name: string, up: boolean): void;
  /**
   * Offload features on for a device (SIOCETHTOOL): 1 tx checksumming, 2 TSO, 4 GSO, 8 GRO; -1
   * when unreadable. Absent in older addons.
   */
  ifOffloads?(name: string): number;
  /** SIOCSIFTXQLEN: for a TAP, how many frames the kernel queues for its reader before dropping. */
  ifSetTxQueueLen(name: string, len: number): void;
  /** flock(fd, LOCK_EX|LOCK_NB): true when held now, false when another open file holds it. */
  flockExclusive(fd: number): boolean;
  ifIndexToName(ifindex: number): string | null;
  errnoName(errno: number): string;
  /** Pending socket error (SO_ERROR; reading clears it), 0 if none. */
  sockError(fd: number): number;
  /**
   * One native call for a batch. Slot i receives into bufs[i] at offs[i] (cap caps[i]); on return
   * offs[i]/lens[i] give the frame (lens 0: skip slot, < 0: oversized frame to drop) and flags[i]
   * its RX_* bits (RX_CSUM_PARTIAL). res[0] = errno that ended the call (EAGAIN usual, 0 when
   * full), res[1] = syscalls made. kind | KIND_VNET (an fd opened with vnet headers): each frame's
   * virtio-net header is read into the VNET_HDR_LEN bytes before offs[i] (offs[i] >= 10) and
   * parsed into meta[i*META_SLOTS ..] = flags, gso_type, hdr_len, gso_size, csum_start,
   * csum_offset. ages[i]: ms between the kernel's receive time of the frame (ring tp_sec/tp_nsec or
   * SO_TIMESTAMPNS, CLOCK_REALTIME) and the call; -1 when unknown (TAP reads).
   */
  recvBatch(fd: number, kind: number, bufs: Buffer[], offs: Int32Array, caps: Int32Array, lens: Int32Array, count: number, res: Int32Array, flags: Uint8Array,
    meta?: Int32Array, ages?: Float64Array): number;
  /**
   * Returns frames sent; res[0] = errno that stopped early (0 if none), res[1] = syscalls,
   * res[2] = frames the kernel refused (skipped, the batch goes on), res[3] = of those, EMSGSIZE
   * (longer than the device MTU). A refused frame's lens[i] is set to 0: the bytes sent are the sum
   * of lens[0 .. sent + res[2]).
   */
  sendBatch(fd: number, kind: number, bufs: Buffer[], offs: Int32Array, lens: Int32Array, count: number, res: Int32Array): number;
  Poller: new (fd: number, cb: (status: number, events: number) => void) => NativePoller;
  /** sluice_uring.cc (optional: absent in an addon built before it): batched TAP I/O by io_uring. */
  uringAttach?(fd: number): void;
  uringDetach?(fd: number): void;
  /** Register a pool Buffer once; batches then name it by id (-1: table full). */
  bufRegister?(buf: Buffer): number;
  /** The recvBatch contract on a TAP fd with ids instead of Buffers; slots that found nothing get lens 0. */
  uringRecv?(fd: number, ids: Int32Array, offs: Int32Array, caps: Int32Array, lens: Int32Array, count: number, res: Int32Array): number;
  /** The sendBatch contract; on return lens[0, sent) are the sent lengths and the refused ones 0. */
  uringSend?(fd: number, ids: Int32Array, offs: Int32Array, lens: Int32Array, count: number, res: Int32Array): number;
  /** recvBatch/sendBatch's TAP read()/write() loops on registered buffer ids (no N-API lookup per frame). */
  idsRecv?(fd: number, ids: Int32Array, offs: Int32Array, caps: Int32Array, lens: Int32Array, count: number, res: Int32Array): number;
  idsSend?(fd: number, ids: Int32Array, offs: Int32Array, lens: Int32Array, count: number, res: Int32Array): number;
  /** sluice_tunnel.cc (absent in an addon built before it): VXLAN underlay sockets. */
  /** A non-blocking UDP socket bound to local:port, SO_TIMESTAMPNS on; family 4 or 6. */
  udpOpen?(local: string, port: number, rcvbufBytes: number): { fd: number; family: number };
  /** A non-blocking IPPROTO_RAW socket (the caller writes the IP header) of family 4 or 6. */
  rawOpen?(family: number, sndbufBytes: number): number;
  /**
   * recvmmsg on a UDP socket: datagram i at bufs[i][offs[i]..] (cap caps[i]); lens[i] its length
   * (negative: did not fit); addrs[i*6..] = family, four address words (big-endian numbers), port;
   * ages[i] ms since the kernel received it (-1 unknown). res[0] errno that ended it, res[1] syscalls.
   */
  udpRecv?(fd: number, bufs: Buffer[], offs: Int32Array, caps: Int32Array, lens: Int32Array, count: number, res: Int32Array, addrs: Int32Array, ages: Float64Array): number;
  /**
   * sendmmsg on a raw socket: message k = hdrs[k*64 .. +hdrLens[k]) then bufs[k][offs[k] .. +lens[k]),
   * to the IP header's destination; IPv6 UDP checksum computed. res as sendBatch.
   */
  tunnelSend?(fd: number, hdrs: Buffer, hdrLens: Int32Array, bufs: Buffer[], offs: Int32Array, lens: Int32Array, count: number, res: Int32Array): number;
  readonly KIND_TAP: number;
  readonly KIND_PACKET: number;
  readonly KIND_RING: number;
  readonly MAX_BATCH: number;
}

/** `kind` argument of recvBatch/sendBatch (same values as the addon's KIND_TAP / KIND_PACKET). */
export const KIND_TAP = 0;
export const KIND_PACKET = 1;
/** AF_PACKET socket with a TPACKET_V2 RX ring (packetOpen with a ring): RX from the ring, TX sendmmsg. */
export const KIND_RING = 2;
/** Or-ed into recvBatch's kind for an fd opened with vnet headers (tapOpen/packetOpen with vnet). */
export const KIND_VNET = 0x100;
/** int32 slots per frame in recvBatch's meta: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
export const META_SLOTS = 6;
/** TUN_F_* bits of tapOpen's `offloads`. */
export const TUN_F = { CSUM: 0x01, TSO4: 0x02, TSO6: 0x04, TSO_ECN: 0x08, UFO: 0x10, USO4: 0x20, USO6: 0x40 } as const;
/**
 * recvBatch flags bit: the frame's TCP/UDP checksum was left to offload (AF_PACKET
 * TP_STATUS_CSUMNOTREADY, from the ring's tp_status or PACKET_AUXDATA); complete it before it
 * leaves on a port that cannot (src/packet/complete-checksum.ts). Never set for TAP reads.
 */
export const RX_CSUM_PARTIAL = 1;
/** IFF_* flags (linux/if.h). */
export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
/** uv_poll event bits. */
export const UV_READABLE = 1;
export const UV_DISCONNECT = 4;

export class NativeUnavailableError extends Error {
  readonly code = 'SW_ERR_NATIVE';
  constructor(reason: string) {
    super(`Sluice's native I/O addon is not available (${reason}); tap/system ports need it. ` +
      'Build it with `npm install` or `node scripts/build-native.mjs` (needs g++, make, python3 and Node headers).');
    this.name = 'NativeUnavailableError';
  }
}

const ADDON = 'sluice_io.node';

function findPackageRoot(start: string): string | null {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** Where the addon may be, most specific first. */
export function addonCandidates(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = findPackageRoot(here);
  const out: string[] = [];
  if (process.env.SLUICE_NATIVE_ADDON) out.push(process.env.SLUICE_NATIVE_ADDON);
  out.push(path.join(here, 'build', 'Release', ADDON));
  if (root) {
    out.push(path.join(root, 'src', 'datapath', 'native', 'build', 'Release', ADDON));
    out.push(path.join(root, 'build', 'Release', ADDON));
  }
  return out;
}

let binding: NativeBinding | null = null;
let failure: string | null = null;

/** The addon, loaded once; throws NativeUnavailableError (code SW_ERR_NATIVE) when it is missing. */
export function native(): NativeBinding {
  if (binding) return binding;
  if (failure) throw new NativeUnavailableError(failure);
  if (process.platform !== 'linux') failure = `platform ${process.platform} is not Linux`;
  else {
    const file = addonCandidates().find((f) => existsSync(f));
    if (!file) failure = `${ADDON} not found`;
    else {
      try {
        binding = createRequire(import.meta.url)(file) as NativeBinding;
        return binding;
      } catch (err) {
        failure = `${file}: ${(err as Error).message.split('\n')[0]}`;
      }
    }
  }
  throw new NativeUnavailableError(failure);
}

/** True when the addon loads (for tests and `sluice` diagnostics); never throws. */
export function nativeAvailable(): boolean {
  try { native(); return true; } catch { return false; }
}
