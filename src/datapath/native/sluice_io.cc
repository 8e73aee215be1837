// sluice_io.cc — Sluice's only native code: the small N-API shim for what Node cannot do itself.
// TAP create/attach (TUNSETIFF), AF_PACKET sockets (promisc, auxdata, ignore-outgoing, 32 MiB
// rcvbuf, optional TPACKET_V2 RX ring), batched non-blocking recv/send (ring reads, recvmmsg/
// sendmmsg, read/write loops) into Buffers the caller owns, per-frame receive flags (partial
// checksum), PACKET_STATISTICS, link flags, and readiness through libuv's uv_poll. One call moves a
// whole batch. Offloads: a TAP with IFF_VNET_HDR + TUNSETOFFLOAD and an AF_PACKET socket with
// PACKET_VNET_HDR carry a virtio-net header before each frame (see "vnet headers" below).
#include <napi.h>
#include <uv.h>

#include "sluice_common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <unordered_map>

namespace {

using sluice::ErrName;
using sluice::FrameError;
using sluice::RealtimeMs;
using sluice::ThrowErrno;

constexpr int kMaxBatch = 256;     // upper bound of frames per call (JS uses MAX_BURST = 64)
constexpr int kKindTap = 0;        // fd is a TAP: read()/write() loops
constexpr int kKindPacket = 1;     // fd is an AF_PACKET socket: recvmmsg()/sendmmsg()
constexpr int kKindRing = 2;       // AF_PACKET socket with a TPACKET_V2 RX ring: RX from the ring, TX sendmmsg()

// recvBatch per-frame flags (flags[i], one byte per slot).
// kRxCsumPartial: the kernel handed us the frame with its TCP/UDP checksum left to offload
// (skb CHECKSUM_PARTIAL, e.g. from a veth whose peer has tx checksumming on): the checksum field
// holds only the pseudo-header sum and must be completed before the frame leaves on a device that
// will not do it. AF_PACKET says so with TP_STATUS_CSUMNOTREADY (bit 3) in the ring's tp_status or
// in PACKET_AUXDATA; TP_STATUS_CSUM_VALID (bit 7: the checksum was verified on receive) is
// a different thing and is not reported. A TAP read without IFF_VNET_HDR never gives partial
// frames: the TAP has no tx checksum offload then, so the kernel completes them before queueing.
constexpr uint8_t kRxCsumPartial = 1;

// ---- vnet headers (offloads) ----
// A port opened with vnet headers reads and writes each frame behind a struct virtio_net_hdr: the
// 10-byte legacy layout, the one both a TAP (default vnet_hdr_sz) and AF_PACKET (PACKET_VNET_HDR,
// fixed size) speak, so one parser serves both and no TUNSETVNETHDRSZ is needed (the 12-byte
// v1/mrg layout only adds num_buffers, which means nothing outside a virtio ring). Fields are
// little-endian: TUNSETVNETLE asks the TAP for that; AF_PACKET uses the host's order (LE on every
// host Sluice runs on). kKindVnet is or-ed into `kind` by the caller for such fds. On receive the
// header lands in the packet's headroom right before the frame and is parsed into meta[] (per
// slot kMetaSlots int32: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, offsets
// from the frame's first byte as returned, i.e. after a stripped VLAN tag was put back); on send
// the caller writes it in the headroom and passes offs/lens that include it.
// struct virtio_net_hdr (linux/virtio_net.h, which C++ cannot include: a field is named `class`).
struct VnetHdr {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len, gso_size, csum_start, csum_offset;
} __attribute__((packed));
constexpr uint8_t kVnetNeedsCsum = 1;   // VIRTIO_NET_HDR_F_NEEDS_CSUM
constexpr int kKindVnet = 0x100;
constexpr int kKindMask = 0xff;
constexpr int kVnetHdrLen = (int)sizeof(VnetHdr);   // 10
static_assert(sizeof(VnetHdr) == 10, "virtio_net_hdr is 10 bytes");
constexpr int kMetaSlots = 6;
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20   // linux/if_tun.h of kernels >= 6.2; older kernels reject it with EINVAL
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

// Parse the virtio-net header at h into meta[0..kMetaSlots) (shift: bytes put in front of the
// frame after the kernel wrote its offsets, a restored VLAN tag); sets kRxCsumPartial on NEEDS_CSUM.
void PutVnetMeta(const uint8_t* h, int32_t* meta, uint8_t* flags, int shift) {
  VnetHdr v;
  memcpy(&v, h, sizeof v);
  bool partial = (v.flags & kVnetNeedsCsum) != 0;
  if (flags != nullptr && partial) *flags |= kRxCsumPartial;
  if (meta == nullptr) return;
  uint16_t hdrLen = le16toh(v.hdr_len), start = le16toh(v.csum_start);
  meta[0] = v.flags;
  meta[1] = v.gso_type;
  meta[2] = hdrLen != 0 ? hdrLen + shift : 0;
  meta[3] = le16toh(v.gso_size);
  meta[4] = partial ? start + shift : start;
  meta[5] = le16toh(v.csum_offset);
}

// Ask the TAP to hand us (and accept from us) checksum-partial and TSO/USO super-frames: the
// widest set this kernel knows, falling back step by step (USO needs 6.2). Returns the TUN_F_*
// bits set, 0 if none (the TAP then behaves as without offloads, headers still present).
unsigned TapEnableOffloads(int fd) {
  const unsigned tries[] = {
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6,
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN,
    TUN_F_CSUM,
  };
  for (unsigned t : tries) if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)t) == 0) return t;
  return 0;
}


// A TPACKET_V2 RX ring mapped for one AF_PACKET fd. V2 (not V3): the kernel marks readiness per
// frame, so one frame alone wakes the reader at once (V3 wakes per retired block, ~1 ms); and
// reading everything available costs no syscall at all (status words in shared memory).
struct Ring {
  uint8_t* map;
  size_t mapLen;
  uint32_t frameSize, frameCount, head;
};
// Every thread with a datapath (the main thread, datapath workers) shares the addon: the map is
// guarded; an entry's Ring is used by the one thread that owns its fd (node addresses are stable).
std::unordered_map<int, Ring> gRings;
std::mutex gRingsLock;

Ring* FindRing(int fd) {
  std::lock_guard<std::mutex> hold(gRingsLock);
  auto it = gRings.find(fd);
  return it == gRings.end() ? nullptr : &it->second;
}


bool CopyIfName(Napi::Env env, const std::string& name, char* out) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    ThrowErrno(env, name.empty() ? std::string("(empty)") : name, "ifname", ENAMETOOLONG);
    return false;
  }
  memset(out, 0, IFNAMSIZ);
  memcpy(out, name.data(), name.size());
  return true;
}

// tapOpen(name, persist, vnet = false) -> { fd, name, vnetHdr, offloads }: create or attach TAP
// `name` (IFF_TAP|IFF_NO_PI, plus IFF_VNET_HDR and TUNSETOFFLOAD when vnet), non-blocking.
// offloads: the TUN_F_* bits the kernel took (0 without vnet).
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  bool persist = info[1].ToBoolean().Value();
  bool vnet = info.Length() > 2 && info[2].ToBoolean().Value();
  struct ifreq ifr;
  if (!CopyIfName(env, name, ifr.ifr_name)) return env.Undefined();
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { ThrowErrno(env, name, "open /dev/net/tun", errno); return env.Undefined(); }
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno; close(fd); ThrowErrno(env, name, "TUNSETIFF", e); return env.Undefined();
  }
  unsigned offloads = 0;
  if (vnet) {
    int le = 1;
    ioctl(fd, TUNSETVNETLE, &le);           // best effort: already little-endian on LE hosts
    offloads = TapEnableOffloads(fd);
  }
  if (persist && ioctl(fd, TUNSETPERSIST, 1) < 0) {
    int e = errno; close(fd); ThrowErrno(env, name, "TUNSETPERSIST", e); return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  out.Set("vnetHdr", Napi::Boolean::New(env, vnet));
  out.Set("offloads", Napi::Number::New(env, offloads));
  return out;
}

// tapSetPersist(fd, name, on): clear or set TUNSETPERSIST on an open TAP fd.
Napi::Value TapSetPersist(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  if (ioctl(fd, TUNSETPERSIST, info[2].ToBoolean().Value() ? 1 : 0) < 0) ThrowErrno(env, name, "TUNSETPERSIST", errno);
  return env.Undefined();
}

// packetOpen(ifname, rcvbufBytes, ringFrameSize = 0, ringFrames = 0, vnet = false)
//   -> { fd, ifindex, rcvbufBytes, ignoreOutgoing, ringFrameSize, ringFrames, vnetHdr }
// With ringFrameSize > 0 (a power of two >= 2048) the socket gets a TPACKET_V2 RX ring of
// ringFrames frames, mapped before bind; read it with kind KIND_RING. vnet: PACKET_VNET_HDR (set
// before the ring, as the kernel requires); vnetHdr says whether the kernel took it. Every packet
// socket also asks for SO_TIMESTAMPNS, so recvmmsg reports receive times as the ring does.
Napi::Value PacketOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int rcvbuf = info[1].As<Napi::Number>().Int32Value();
  uint32_t ringFrameSize = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  uint32_t ringFrames = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 0;
  bool vnet = info.Length() > 4 && info[4].ToBoolean().Value();
  char ifname[IFNAMSIZ];
  if (!CopyIfName(env, name, ifname)) return env.Undefined();
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) { ThrowErrno(env, name, "if_nametoindex", errno); return env.Undefined(); }
  // Protocol 0 until bind: the socket sees no traffic from other interfaces in between.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { ThrowErrno(env, name, "socket(AF_PACKET)", errno); return env.Undefined(); }
  auto fail = [&](const char* op) { int e = errno; close(fd); ThrowErrno(env, name, op, e); return env.Undefined(); };
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) return fail("PACKET_AUXDATA");
  bool ignoreOutgoing = setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) return fail("SO_RCVBUF");
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);   // best effort: no time, batch clock
  bool vnetHdr = vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
  Ring ring = {nullptr, 0, 0, 0, 0};
  if (ringFrameSize > 0 && ringFrames > 0) {
    if (ringFrameSize < 2048 || (ringFrameSize & (ringFrameSize - 1)) != 0 || ringFrames > (1u << 20)) {
      close(fd); ThrowErrno(env, name, "PACKET_RX_RING", EINVAL); return env.Undefined();
    }
    int v = TPACKET_V2;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0) return fail("PACKET_VERSION");
    // Blocks of 128 KiB (or one frame if larger): a few contiguous pages each, vmalloc fallback.
    uint32_t block = ringFrameSize > 131072 ? ringFrameSize : 131072;
    uint32_t perBlock = block / ringFrameSize;
    uint32_t blocks = (ringFrames + perBlock - 1) / perBlock;
    struct tpacket_req req;
    req.tp_block_size = block;
    req.tp_block_nr = blocks;
    req.tp_frame_size = ringFrameSize;
    req.tp_frame_nr = blocks * perBlock;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return fail("PACKET_RX_RING");
    size_t len = (size_t)block * blocks;
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (m == MAP_FAILED) return fail("mmap(PACKET_RX_RING)");
    ring = {(uint8_t*)m, len, ringFrameSize, req.tp_frame_nr, 0};
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = (int)ifindex;
  auto failRing = [&](const char* op) {
    if (ring.map != nullptr) munmap(ring.map, ring.mapLen);
    return fail(op);
  };
  if (bind(fd, (struct sockaddr*)&sll, sizeof sll) < 0) return failRing("bind");
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = (int)ifindex;
  mr.mr_type = PACKET_MR_PROMISC;
  if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0) return failRing("PACKET_ADD_MEMBERSHIP");
  if (ring.map != nullptr) { std::lock_guard<std::mutex> hold(gRingsLock); gRings[fd] = ring; }
  int actual = 0;
  socklen_t alen = sizeof actual;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &alen);
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("ifindex", Napi::Number::New(env, ifindex));
  out.Set("rcvbufBytes", Napi::Number::New(env, actual));
  out.Set("ignoreOutgoing", Napi::Boolean::New(env, ignoreOutgoing));
  out.Set("ringFrameSize", Napi::Number::New(env, ring.frameSize));
  out.Set("ringFrames", Napi::Number::New(env, ring.frameCount));
  out.Set("vnetHdr", Napi::Boolean::New(env, vnetHdr));
  return out;
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  {
    std::lock_guard<std::mutex> hold(gRingsLock);
    auto it = gRings.find(fd);
    if (it != gRings.end()) { munmap(it->second.map, it->second.mapLen); gRings.erase(it); }
  }
  if (fd >= 0) close(fd);
  return info.Env().Undefined();
}

// packetStats(fd, out): PACKET_STATISTICS since the last call (the kernel resets on read):
// out[0] += frames queued to the socket or ring, out[1] += frames the socket dropped (buffer or
// ring full). Returns false when the fd is not a packet socket.
Napi::Value PacketStats(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  double* out = info[1].As<Napi::Float64Array>().Data();
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0) return Napi::Boolean::New(info.Env(), false);
  out[0] += st.tp_packets;
  out[1] += st.tp_drops;
  return Napi::Boolean::New(info.Env(), true);
}

// ifFlags(name) -> IFF_* flags (SIOCGIFFLAGS); throws ENODEV when the device is not in this netns.
Napi::Value IfFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  struct ifreq ifr;
  if (!CopyIfName(env, name, ifr.ifr_name)) return env.Undefined();
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) { ThrowErrno(env, name, "socket", errno); return env.Undefined(); }
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  int e = errno;
  close(s);
  if (r < 0) { ThrowErrno(env, name, "SIOCGIFFLAGS", e); return env.Undefined(); }
  return Napi::Number::New(env, (uint16_t)ifr.ifr_flags);
}

// ifSetUp(name, up): set or clear IFF_UP, read-modify-write of the flags word (SIOCGIFFLAGS then
// SIOCSIFFLAGS, any AF_INET socket will do; needs CAP_NET_ADMIN). TapPort raises the TAP it
// creates; SystemPort raises the device it attaches to (a QEMU TAP or a veth left down), as Open
// vSwitch does for the interfaces it adds.
Napi::Value IfSetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  bool up = info[1].ToBoolean().Value();
  struct ifreq ifr;
  if (!CopyIfName(env, name, ifr.ifr_name)) return env.Undefined();
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) { ThrowErrno(env, name, "socket", errno); return env.Undefined(); }
  const char* op = "SIOCGIFFLAGS";
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    op = "SIOCSIFFLAGS";
    if (up) ifr.ifr_flags |= IFF_UP; else ifr.ifr_flags &= ~IFF_UP;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(s);
  if (r < 0) ThrowErrno(env, name, op, e);
  return env.Undefined();
}

// ifOffloads(name) -> bits of the device's offload features that are on (SIOCETHTOOL legacy
// getters): 1 tx checksumming, 2 TSO, 4 GSO, 8 GRO; -1 when they cannot be read (no ethtool ops).
// SystemPort uses it to choose vnet headers where super-frames or partial checksums can occur.
Napi::Value IfOffloads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  struct ifreq ifr;
  if (!CopyIfName(env, name, ifr.ifr_name)) return env.Undefined();
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Napi::Number::New(env, -1);
  const uint32_t cmds[] = {ETHTOOL_GTXCSUM, ETHTOOL_GTSO, ETHTOOL_GGSO, ETHTOOL_GGRO};
  int bits = 0, read = 0;
  for (int i = 0; i < 4; i++) {
    struct ethtool_value ev = {cmds[i], 0};
    ifr.ifr_data = (char*)&ev;
    if (ioctl(s, SIOCETHTOOL, &ifr) == 0) { read++; if (ev.data) bits |= 1 << i; }
  }
  close(s);
  return Napi::Number::New(env, read == 0 ? -1 : bits);
}

// ifSetTxQueueLen(name, len): SIOCSIFTXQLEN (a TAP's queue towards its reader is this long).
Napi::Value IfSetTxQueueLen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>().Utf8Value();
  struct ifreq ifr;
  if (!CopyIfName(env, name, ifr.ifr_name)) return env.Undefined();
  ifr.ifr_qlen = info[1].As<Napi::Number>().Int32Value();
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) { ThrowErrno(env, name, "socket", errno); return env.Undefined(); }
  int r = ioctl(s, SIOCSIFTXQLEN, &ifr);
  int e = errno;
  close(s);
  if (r < 0) ThrowErrno(env, name, "SIOCSIFTXQLEN", e);
  return env.Undefined();
}

// flockExclusive(fd) -> true when the open file `fd` now holds an exclusive flock(2), false when
// another open file holds it (EWOULDBLOCK); throws on other errors. Used for the per-device claim
// files of src/agent/device-claims.ts. flock rather than fcntl locks: it belongs to the open file
// description, so it goes exactly when the holder closes the fd or dies (kill -9 too: no stale
// claim), and closing some other fd of the same file in the same process does not drop it.
Napi::Value FlockExclusive(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int r;
  do { r = flock(fd, LOCK_EX | LOCK_NB); } while (r < 0 && errno == EINTR);
  if (r == 0) return Napi::Boolean::New(info.Env(), true);
  if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  ThrowErrno(info.Env(), "fd " + std::to_string(fd), "flock", errno);
  return info.Env().Undefined();
}

// ifIndexToName(ifindex) -> name or null (device gone from this netns).
Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  char buf[IF_NAMESIZE];
  if (if_indextoname(info[0].As<Napi::Number>().Uint32Value(), buf) == nullptr) return info.Env().Null();
  return Napi::String::New(info.Env(), buf);
}

// sockError(fd) -> pending socket error (SO_ERROR, which also clears it), 0 if none.
Napi::Value SockError(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  int e = 0;
  socklen_t len = sizeof e;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) e = errno;
  return Napi::Number::New(info.Env(), e);
}

Napi::Value ErrnoName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrName(info[0].As<Napi::Number>().Int32Value()));
}

// Resolves the per-call arguments; false (and a pending TypeError) on bad input.
struct BatchArgs {
  napi_env env;
  napi_value bufs;
  bool withCaps;
  int fd, kind, count;
  int32_t *offs, *caps, *lens, *res;
  uint8_t* flags;                  // recvBatch: per-slot kRx* flags (nullptr when not passed)
  int32_t* meta;                   // recvBatch on a vnet fd: kMetaSlots per slot (nullptr when not passed)
  double* ages;                    // recvBatch: per-slot age in ms of the kernel's receive time (nullptr: not asked)
  bool vnet;                       // kind had kKindVnet: a virtio-net header precedes every frame
  uint8_t* data[kMaxBatch];
  size_t size[kMaxBatch];
};

// Slot i's Buffer into a.data[i]/a.size[i], checked against offs/caps (or lens); false and a
// pending TypeError/RangeError on bad input.
bool ResolveSlot(BatchArgs& a, int i) {
  napi_value v;
  napi_get_element(a.env, a.bufs, (uint32_t)i, &v);
  void* d = nullptr;
  size_t n = 0;
  if (napi_get_buffer_info(a.env, v, &d, &n) != napi_ok) {
    Napi::TypeError::New(a.env, "sluice_io: batch slot is not a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  int32_t end = a.offs[i] + (a.withCaps ? a.caps[i] : a.lens[i]);
  int32_t front = a.vnet ? kVnetHdrLen : 0;    // the header is read/written in front of offs
  if (a.offs[i] < front || end < a.offs[i] || (size_t)end > n) {
    Napi::RangeError::New(a.env, "sluice_io: batch slot out of its Buffer").ThrowAsJavaScriptException();
    return false;
  }
  a.data[i] = (uint8_t*)d;
  a.size[i] = n;
  return true;
}

// lazy: leave the slots to ResolveSlot (a ring read resolves only the slots it fills: an empty
// poll then costs no per-slot N-API calls).
bool ReadArgs(const Napi::CallbackInfo& info, bool withCaps, BatchArgs& a, bool lazy = false) {
  Napi::Env env = info.Env();
  a.env = env;
  a.withCaps = withCaps;
  // (fd, kind, bufs, offs, caps|lens, [lens], count, res, [flags])
  a.fd = info[0].As<Napi::Number>().Int32Value();
  int kindArg = info[1].As<Napi::Number>().Int32Value();
  a.kind = kindArg & kKindMask;
  a.vnet = (kindArg & kKindVnet) != 0;
  Napi::Array bufs = info[2].As<Napi::Array>();
  a.bufs = bufs;
  int k = 3;
  a.offs = info[k++].As<Napi::Int32Array>().Data();
  a.caps = withCaps ? info[k++].As<Napi::Int32Array>().Data() : nullptr;
  a.lens = info[k++].As<Napi::Int32Array>().Data();
  a.count = info[k++].As<Napi::Number>().Int32Value();
  a.res = info[k++].As<Napi::Int32Array>().Data();
  a.flags = nullptr;
  a.meta = nullptr;
  a.ages = nullptr;
  if (withCaps && info.Length() > (size_t)k && info[k].IsTypedArray()) {
    Napi::Uint8Array f = info[k].As<Napi::Uint8Array>();
    if (f.ElementLength() < (size_t)a.count) {
      Napi::TypeError::New(env, "sluice_io: flags shorter than the batch").ThrowAsJavaScriptException();
      return false;
    }
    a.flags = f.Data();
  }
  k++;
  if (withCaps && info.Length() > (size_t)k && info[k].IsTypedArray()) {
    Napi::Int32Array m = info[k].As<Napi::Int32Array>();
    if (m.ElementLength() < (size_t)a.count * kMetaSlots) {
      Napi::TypeError::New(env, "sluice_io: meta shorter than the batch").ThrowAsJavaScriptException();
      return false;
    }
    a.meta = m.Data();
  }
  k++;
  if (withCaps && info.Length() > (size_t)k && info[k].IsTypedArray()) {
    Napi::Float64Array t = info[k].As<Napi::Float64Array>();
    if (t.ElementLength() < (size_t)a.count) {
      Napi::TypeError::New(env, "sluice_io: ages shorter than the batch").ThrowAsJavaScriptException();
      return false;
    }
    a.ages = t.Data();
  }
  if (a.count < 0 || a.count > kMaxBatch || (uint32_t)a.count > bufs.Length()) {
    Napi::TypeError::New(env, "sluice_io: bad batch count").ThrowAsJavaScriptException();
    return false;
  }
  if (lazy) return true;
  for (int i = 0; i < a.count; i++) if (!ResolveSlot(a, i)) return false;
  return true;
}

// recvBatch(fd, kind, bufs, offs, caps, lens, count, res, flags, meta, ages) -> frames received.
// Slot i may receive into bufs[i][offs[i] .. offs[i]+caps[i]). On return offs[i]/lens[i] give the
// frame; lens[i] == 0 means "skip this slot" (our own outgoing frame), lens[i] < 0 a frame of
// -lens[i] bytes that did not fit (drop it). AF_PACKET receives at offs[i]+4 so that a tag stripped
// by the kernel can be put back in front of the EtherType by moving only the 12 MAC bytes down.
// res[0] = errno that ended the call (EAGAIN normally, 0 when the batch filled), res[1] = syscalls.
// flags (a Uint8Array, optional): flags[i] gets kRx* bits for every slot filled (0 for TAP reads).
// KIND_RING copies frames out of the RX ring (tag put back from tp_vlan_tci) and hands each slot
// back to the kernel at once: no syscall, and slots are resolved only for frames that are there.
// kind | kKindVnet: a virtio-net header precedes each frame; it is read into the 10 bytes before
// offs[i] and parsed into meta (see "vnet headers"). ages (a Float64Array, optional): per slot how
// many ms before this call the kernel received the frame (ring tp_sec/tp_nsec or SO_TIMESTAMPNS,
// both CLOCK_REALTIME; -1 when unknown, e.g. TAP reads): the caller maps it onto its own clock.
Napi::Value RecvBatch(const Napi::CallbackInfo& info) {
  BatchArgs a;
  int kind = info[1].As<Napi::Number>().Int32Value() & kKindMask;
  if (!ReadArgs(info, true, a, kind == kKindRing || kind == kKindTap)) return info.Env().Undefined();
  int n = 0, sys = 0, err = 0;
  if (a.kind == kKindRing) {
    Ring* found = FindRing(a.fd);
    if (found == nullptr) {
      err = EBADF;
    } else {
      Ring& r = *found;
      err = EAGAIN;
      double nowReal = a.ages != nullptr ? RealtimeMs() : 0;
      for (; n < a.count; n++) {
        struct tpacket2_hdr* h = (struct tpacket2_hdr*)(r.map + (size_t)r.head * r.frameSize);
        uint32_t st = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
        if ((st & TP_STATUS_USER) == 0) break;
        if (!ResolveSlot(a, n)) return info.Env().Undefined();
        const struct sockaddr_ll* from = (const struct sockaddr_ll*)((uint8_t*)h + TPACKET_ALIGN(sizeof(struct tpacket2_hdr)));
        int32_t o = a.offs[n], cap = a.caps[n];
        int32_t len = (int32_t)h->tp_snaplen;
        const uint8_t* src = (const uint8_t*)h + h->tp_mac;
        bool tag = (st & TP_STATUS_VLAN_VALID) != 0 && len >= 12;
        if (a.flags != nullptr) a.flags[n] = (st & TP_STATUS_CSUMNOTREADY) ? kRxCsumPartial : 0;
        if (a.ages != nullptr) a.ages[n] = nowReal - ((double)h->tp_sec * 1e3 + (double)h->tp_nsec / 1e6);
        if (a.vnet) {
          // the kernel puts the header right before the frame in the slot (tp_mac - 10)
          PutVnetMeta(src - kVnetHdrLen, a.meta != nullptr ? a.meta + n * kMetaSlots : nullptr, a.flags != nullptr ? &a.flags[n] : nullptr, tag ? 4 : 0);
          memcpy(a.data[n] + o - kVnetHdrLen, src - kVnetHdrLen, kVnetHdrLen);
        }
        if (from->sll_pkttype == PACKET_OUTGOING) {
          a.lens[n] = 0;
        } else if (h->tp_snaplen < h->tp_len || len + (tag ? 4 : 0) > cap) {
          a.lens[n] = -(int32_t)(h->tp_len + (tag ? 4 : 0));
        } else if (tag) {
          uint8_t* p = a.data[n] + o;
          memcpy(p, src, 12);
          uint16_t tpid = (st & TP_STATUS_VLAN_TPID_VALID) ? h->tp_vlan_tpid : 0x8100;
          p[12] = (uint8_t)(tpid >> 8); p[13] = (uint8_t)tpid;
          p[14] = (uint8_t)(h->tp_vlan_tci >> 8); p[15] = (uint8_t)h->tp_vlan_tci;
          memcpy(p + 16, src + 12, (size_t)len - 12);
          a.lens[n] = len + 4;
        } else {
          memcpy(a.data[n] + o, src, (size_t)len);
          a.lens[n] = len;
        }
        __atomic_store_n(&h->tp_status, (uint32_t)TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        if (++r.head == r.frameCount) r.head = 0;
      }
      if (n == a.count) err = 0;
    }
  } else if (a.kind == kKindTap) {
    int front = a.vnet ? kVnetHdrLen : 0;
    for (; n < a.count; n++) {
      if (!ResolveSlot(a, n)) return info.Env().Undefined();
      uint8_t* at = a.data[n] + a.offs[n] - front;
      ssize_t r = read(a.fd, at, (size_t)(a.caps[n] + front));
      sys++;
      if (r < 0) { err = errno; break; }
      if (a.flags != nullptr) a.flags[n] = 0;   // without vnet headers always complete: see kRxCsumPartial
      if (a.ages != nullptr) a.ages[n] = -1;
      if (r < front) { a.lens[n] = 0; continue; }
      // tun_put_user returns the whole frame's length even when it cut the copy to the buffer:
      // longer than the slot means oversized (negative: the caller counts and drops it).
      if (r - front > a.caps[n]) { a.lens[n] = -(int32_t)(r - front); continue; }
      a.lens[n] = (int32_t)(r - front);
      if (a.vnet) PutVnetMeta(at, a.meta != nullptr ? a.meta + n * kMetaSlots : nullptr, a.flags != nullptr ? &a.flags[n] : nullptr, 0);
    }
  } else if (a.count > 0) {
    struct mmsghdr msgs[kMaxBatch];
    struct iovec iov[kMaxBatch];
    struct sockaddr_ll from[kMaxBatch];
    union Ctrl { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata)) + CMSG_SPACE(sizeof(struct timespec))]; };
    Ctrl ctrl[kMaxBatch];
    int front = a.vnet ? kVnetHdrLen : 0;
    for (int i = 0; i < a.count; i++) {
      iov[i].iov_base = a.data[i] + a.offs[i] + 4 - front;
      iov[i].iov_len = a.caps[i] > 4 ? (size_t)(a.caps[i] - 4 + front) : 0;
      sluice::RecvSlot(msgs[i], iov[i], &from[i], sizeof from[i], ctrl[i].buf, sizeof ctrl[i].buf);
    }
    int r = recvmmsg(a.fd, msgs, (unsigned)a.count, MSG_DONTWAIT, nullptr);
    sys++;
    if (r < 0) {
      err = errno;
    } else {
      n = r;
      if (n < a.count) err = EAGAIN;
      double nowReal = a.ages != nullptr ? RealtimeMs() : 0;
      for (int i = 0; i < n; i++) {
        struct msghdr& h = msgs[i].msg_hdr;
        int32_t len = (int32_t)msgs[i].msg_len - front;
        int32_t o = a.offs[i];
        if (a.flags != nullptr) a.flags[i] = 0;
        if (a.ages != nullptr) a.ages[i] = -1;
        if (from[i].sll_pkttype == PACKET_OUTGOING || len < 0) { a.lens[i] = 0; continue; }
        if (h.msg_flags & MSG_TRUNC) { a.lens[i] = -(len + 4); continue; }
        const struct tpacket_auxdata* aux = nullptr;
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
          if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA &&
              c->cmsg_len >= CMSG_LEN(sizeof(struct tpacket_auxdata))) {
            aux = (const struct tpacket_auxdata*)CMSG_DATA(c);
          } else if (a.ages != nullptr && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
                     c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec t;
            memcpy(&t, CMSG_DATA(c), sizeof t);
            a.ages[i] = nowReal - ((double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6);
          }
        }
        bool tagged = aux != nullptr && (aux->tp_status & TP_STATUS_VLAN_VALID) && len >= 12;
        if (a.vnet) {
          // parsed before the tag goes back in: moving the MACs down overwrites the header's tail
          PutVnetMeta(a.data[i] + o + 4 - front, a.meta != nullptr ? a.meta + i * kMetaSlots : nullptr, a.flags != nullptr ? &a.flags[i] : nullptr, tagged ? 4 : 0);
        }
        if (aux != nullptr && a.flags != nullptr && (aux->tp_status & TP_STATUS_CSUMNOTREADY)) a.flags[i] = kRxCsumPartial;
        if (tagged) {
          uint8_t* p = a.data[i] + o;
          memmove(p, p + 4, 12);
          uint16_t tpid = (aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux->tp_vlan_tpid : 0x8100;
          p[12] = (uint8_t)(tpid >> 8); p[13] = (uint8_t)tpid;
          p[14] = (uint8_t)(aux->tp_vlan_tci >> 8); p[15] = (uint8_t)aux->tp_vlan_tci;
          a.lens[i] = len + 4;
        } else {
          a.offs[i] = o + 4;
          a.lens[i] = len;
        }
      }
    }
  }
  a.res[0] = err;
  a.res[1] = sys;
  return Napi::Number::New(info.Env(), n);
}


// sendBatch(fd, kind, bufs, offs, lens, count, res) -> frames sent.
// res[0] = errno that stopped the batch early (0 if all were tried), res[1] = syscalls,
// res[2] = frames skipped because the kernel refused that frame (EMSGSIZE, EINVAL, EFAULT),
// res[3] = how many of those were EMSGSIZE (longer than the device's MTU allows).
// A refused frame gets lens[i] = 0, so frames [0, sent + res[2]) were all tried and the bytes sent
// are the sum of their lens.
Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  BatchArgs a;
  if (!ReadArgs(info, false, a)) return info.Env().Undefined();
  int i = 0, sent = 0, sys = 0, err = 0, bad = 0, big = 0;
  if (a.kind == kKindTap) {
    for (; i < a.count; i++) {
      ssize_t r = write(a.fd, a.data[i] + a.offs[i], (size_t)a.lens[i]);
      sys++;
      if (r >= 0) { sent++; continue; }
      if (FrameError(errno)) { bad++; big += errno == EMSGSIZE; a.lens[i] = 0; continue; }
      err = errno;
      break;
    }
  } else {
    struct mmsghdr msgs[kMaxBatch];
    struct iovec iov[kMaxBatch];
    for (int k = 0; k < a.count; k++) {
      iov[k].iov_base = a.data[k] + a.offs[k];
      iov[k].iov_len = (size_t)a.lens[k];
      memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    while (i < a.count) {
      int r = sendmmsg(a.fd, msgs + i, (unsigned)(a.count - i), MSG_DONTWAIT);
      sys++;
      if (r > 0) { i += r; sent += r; continue; }
      if (r < 0 && FrameError(errno)) { bad++; big += errno == EMSGSIZE; a.lens[i++] = 0; continue; }
      err = r < 0 ? errno : EAGAIN;
      break;
    }
  }
  a.res[0] = err;
  a.res[1] = sys;
  a.res[2] = bad;
  a.res[3] = big;
  return Napi::Number::New(info.Env(), sent);
}

// Poller: uv_poll on an fd; calls cb(status, events) on the JS thread. status < 0 is a libuv error
// (POLLERR arrives as UV_EBADF and libuv stops the poll); events has 1 = readable, 4 = disconnect.
struct PollState {
  uv_poll_t handle;
  napi_env env;
  napi_ref cb;
  napi_async_context ctx;
  bool active;
};

void OnPollClosed(uv_handle_t* h) {
  PollState* s = (PollState*)h->data;
  napi_delete_reference(s->env, s->cb);
  napi_async_destroy(s->env, s->ctx);
  delete s;
}

void OnPoll(uv_poll_t* h, int status, int events) {
  PollState* s = (PollState*)h->data;
  if (status < 0) s->active = false;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, recv, argv[2], result;
  napi_get_reference_value(env, s->cb, &fn);
  napi_get_global(env, &recv);
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  if (fn != nullptr && napi_make_callback(env, s->ctx, recv, fn, 2, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);  // to process 'uncaughtException', as any callback's throw
    }
  }
  napi_close_handle_scope(env, scope);
}

class Poller : public Napi::ObjectWrap<Poller> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Poller", {
      InstanceMethod("start", &Poller::Start),
      InstanceMethod("stop", &Poller::Stop),
      InstanceMethod("close", &Poller::Close),
    });
  }

  // new Poller(fd, cb)
  explicit Poller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Poller>(info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (!info[1].IsFunction()) { Napi::TypeError::New(env, "Poller: callback required").ThrowAsJavaScriptException(); return; }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    state_ = new PollState();
    state_->env = env;
    state_->active = false;
    napi_create_reference(env, info[1], 1, &state_->cb);
    napi_value resName;
    napi_create_string_utf8(env, "SluicePoller", NAPI_AUTO_LENGTH, &resName);
    napi_async_init(env, nullptr, resName, &state_->ctx);
    state_->handle.data = state_;
    int r = uv_poll_init(loop, &state_->handle, fd);
    if (r < 0) {
      napi_delete_reference(env, state_->cb);
      napi_async_destroy(env, state_->ctx);
      delete state_;
      state_ = nullptr;
      Napi::Error err = Napi::Error::New(env, std::string("uv_poll_init: ") + uv_err_name(r));
      err.Set("code", Napi::String::New(env, uv_err_name(r)));
      err.ThrowAsJavaScriptException();
    }
  }

  ~Poller() override { CloseState(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (state_ != nullptr && !state_->active) {
      int r = uv_poll_start(&state_->handle, UV_READABLE | UV_DISCONNECT, OnPoll);
      if (r < 0) {
        Napi::Error err = Napi::Error::New(info.Env(), std::string("uv_poll_start: ") + uv_err_name(r));
        err.Set("code", Napi::String::New(info.Env(), uv_err_name(r)));
        err.ThrowAsJavaScriptException();
        return info.Env().Undefined();
      }
      state_->active = true;
    }
    return info.Env().Undefined();
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (state_ != nullptr && state_->active) { uv_poll_stop(&state_->handle); state_->active = false; }
    return info.Env().Undefined();
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseState();
    return info.Env().Undefined();
  }
  void CloseState() {
    if (state_ == nullptr) return;
    uv_poll_stop(&state_->handle);
    uv_close((uv_handle_t*)&state_->handle, OnPollClosed);
    state_ = nullptr;
  }
  PollState* state_ = nullptr;
};

}  // namespace

void RegisterUring(Napi::Env env, Napi::Object exports);   // sluice_uring.cc: batched TAP I/O
void RegisterTunnel(Napi::Env env, Napi::Object exports);  // sluice_tunnel.cc: VXLAN underlay I/O

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen));
  exports.Set("tapSetPersist", Napi::Function::New(env, TapSetPersist));
  exports.Set("packetOpen", Napi::Function::New(env, PacketOpen));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("packetStats", Napi::Function::New(env, PacketStats));
  exports.Set("ifFlags", Napi::Function::New(env, IfFlags));
  exports.Set("ifSetUp", Napi::Function::New(env, IfSetUp));
  exports.Set("ifSetTxQueueLen", Napi::Function::New(env, IfSetTxQueueLen));
  exports.Set("ifOffloads", Napi::Function::New(env, IfOffloads));
  exports.Set("flockExclusive", Napi::Function::New(env, FlockExclusive));
  exports.Set("ifIndexToName", Napi::Function::New(env, IfIndexToName));
  exports.Set("sockError", Napi::Function::New(env, SockError));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoName));
  exports.Set("recvBatch", Napi::Function::New(env, RecvBatch));
  exports.Set("sendBatch", Napi::Function::New(env, SendBatch));
  exports.Set("Poller", Poller::Init(env));
  RegisterUring(env, exports);
  RegisterTunnel(env, exports);
  exports.Set("KIND_TAP", Napi::Number::New(env, kKindTap));
  exports.Set("KIND_PACKET", Napi::Number::New(env, kKindPacket));
  exports.Set("KIND_RING", Napi::Number::New(env, kKindRing));
  exports.Set("MAX_BATCH", Napi::Number::New(env, kMaxBatch));
  exports.Set("KIND_VNET", Napi::Number::New(env, kKindVnet));
  exports.Set("VNET_HDR_LEN", Napi::Number::New(env, kVnetHdrLen));
  exports.Set("META_SLOTS", Napi::Number::New(env, kMetaSlots));
  return exports;
}

}  // namespace

NODE_API_MODULE(sluice_io, Init)
