// sluice_tunnel.cc — the underlay I/O of VXLAN tunnel ports: a UDP socket bound to the tunnel's
// local address and port that receives whole datagrams in batches (recvmmsg, with each sender's
// address and the kernel's receive time), and a raw IP socket (IPPROTO_RAW: the caller writes the
// IP header) that sends batches (sendmmsg). A raw socket because RFC 7348 wants a UDP source port
// hashed per inner flow, DF set and a zero UDP checksum, none of which a bound UDP socket can give
// per datagram. Each sent message is two pieces: the outer headers (IP + UDP + VXLAN, written by
// the caller into one scratch Buffer, kHdrStride bytes a message) and the inner frame in its own
// Buffer, so head-end replication sends one frame to many VTEPs without copying it.
#include <napi.h>

#include "sluice_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>

namespace {

constexpr int kMaxBatch = 256;
constexpr int kHdrStride = 64;    // bytes of the header scratch Buffer per message
constexpr int kAddrSlots = 6;     // udpRecv addrs[] per slot: family, 4 address words, port

using sluice::RealtimeMs;
constexpr auto Throw = sluice::ThrowErrno;

// udpOpen(local, port, rcvbufBytes) -> { fd, family }: a non-blocking UDP socket bound to
// local:port (IPv4 or IPv6 literal; IPv6 sockets are v6-only), receive buffer forced as root, and
// SO_TIMESTAMPNS so every datagram carries its receive time.
Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string local = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  int rcvbuf = info[2].As<Napi::Number>().Int32Value();
  std::string who = local + ":" + std::to_string(port);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t sl;
  int family;
  struct sockaddr_in* s4 = (struct sockaddr_in*)&ss;
  struct sockaddr_in6* s6 = (struct sockaddr_in6*)&ss;
  if (inet_pton(AF_INET, local.c_str(), &s4->sin_addr) == 1) {
    family = AF_INET; s4->sin_family = AF_INET; s4->sin_port = htons((uint16_t)port); sl = sizeof *s4;
  } else if (inet_pton(AF_INET6, local.c_str(), &s6->sin6_addr) == 1) {
    family = AF_INET6; s6->sin6_family = AF_INET6; s6->sin6_port = htons((uint16_t)port); sl = sizeof *s6;
  } else {
    Throw(env, who, "inet_pton", EINVAL);
    return env.Undefined();
  }
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { Throw(env, who, "socket", errno); return env.Undefined(); }
  int one = 1;
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  if (bind(fd, (struct sockaddr*)&ss, sl) != 0) {
    int e = errno;
    close(fd);
    Throw(env, who, "bind", e);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("family", family == AF_INET ? 4 : 6);
  return out;
}

// rawOpen(family 4|6, sndbufBytes) -> fd: a non-blocking IPPROTO_RAW socket (the caller's buffer
// starts with the IP header: IP_HDRINCL, implied). For IPv4 the kernel fills in the total length,
// the header checksum and an id left 0; for IPv6 nothing: the caller writes the payload length.
// A datagram longer than the route's MTU is refused with EMSGSIZE, never fragmented.
Napi::Value RawOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int v = info[0].As<Napi::Number>().Int32Value();
  int sndbuf = info[1].As<Napi::Number>().Int32Value();
  int fd = socket(v == 6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) { Throw(env, v == 6 ? "raw6" : "raw4", "socket", errno); return env.Undefined(); }
  if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  return Napi::Number::New(env, fd);
}

bool BufferAt(Napi::Env env, Napi::Array bufs, int i, uint8_t** data, size_t* size) {
  napi_value v;
  napi_get_element(env, bufs, (uint32_t)i, &v);
  void* d = nullptr;
  size_t n = 0;
  if (napi_get_buffer_info(env, v, &d, &n) != napi_ok) {
    Napi::TypeError::New(env, "sluice_tunnel: batch slot is not a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  *data = (uint8_t*)d;
  *size = n;
  return true;
}

// udpRecv(fd, bufs, offs, caps, lens, count, res, addrs, ages) -> datagrams received.
// Datagram i lands at bufs[i][offs[i]..] (at most caps[i] bytes); lens[i] is its length, or
// -length when it did not fit (drop it). addrs[i*6 ..] = family (4|6), the sender's address as
// four 32-bit words, each as a big-endian number (IPv4: word 0, rest 0), the sender's UDP port. ages[i] = ms since the
// kernel received it (SO_TIMESTAMPNS), -1 when unknown. res[0] = errno that ended the call
// (EAGAIN normally, 0 when the batch filled), res[1] = syscalls.
Napi::Value UdpRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Array bufs = info[1].As<Napi::Array>();
  int32_t* offs = info[2].As<Napi::Int32Array>().Data();
  int32_t* caps = info[3].As<Napi::Int32Array>().Data();
  int32_t* lens = info[4].As<Napi::Int32Array>().Data();
  int count = info[5].As<Napi::Number>().Int32Value();
  int32_t* res = info[6].As<Napi::Int32Array>().Data();
  Napi::Int32Array addrArr = info[7].As<Napi::Int32Array>();
  Napi::Float64Array ageArr = info[8].As<Napi::Float64Array>();
  if (count < 0 || count > kMaxBatch || (uint32_t)count > bufs.Length() ||
      addrArr.ElementLength() < (size_t)count * kAddrSlots || ageArr.ElementLength() < (size_t)count) {
    Napi::TypeError::New(env, "sluice_tunnel: bad batch count").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int32_t* addrs = addrArr.Data();
  double* ages = ageArr.Data();
  struct mmsghdr msgs[kMaxBatch];
  struct iovec iov[kMaxBatch];
  struct sockaddr_storage from[kMaxBatch];
  union Ctrl { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(struct timespec))]; };
  Ctrl ctrl[kMaxBatch];
  for (int i = 0; i < count; i++) {
    uint8_t* d;
    size_t n;
    if (!BufferAt(env, bufs, i, &d, &n)) return env.Undefined();
    if (offs[i] < 0 || caps[i] < 0 || (size_t)offs[i] + (size_t)caps[i] > n) {
      Napi::RangeError::New(env, "sluice_tunnel: batch slot out of its Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    iov[i].iov_base = d + offs[i];
    iov[i].iov_len = (size_t)caps[i];
    sluice::RecvSlot(msgs[i], iov[i], &from[i], sizeof from[i], ctrl[i].buf, sizeof ctrl[i].buf);
  }
  int n = 0, err = 0;
  if (count > 0) {
    int r = recvmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT, nullptr);
    if (r < 0) {
      err = errno;
    } else {
      n = r;
      if (n < count) err = EAGAIN;
      double nowReal = RealtimeMs();
      for (int i = 0; i < n; i++) {
        struct msghdr& h = msgs[i].msg_hdr;
        int32_t len = (int32_t)msgs[i].msg_len;
        lens[i] = (h.msg_flags & MSG_TRUNC) ? -len : len;
        int32_t* a = addrs + i * kAddrSlots;
        if (from[i].ss_family == AF_INET) {
          const struct sockaddr_in* s = (const struct sockaddr_in*)&from[i];
          a[0] = 4;
          a[1] = (int32_t)ntohl(s->sin_addr.s_addr);
          a[2] = a[3] = a[4] = 0;
          a[5] = ntohs(s->sin_port);
        } else {
          const struct sockaddr_in6* s = (const struct sockaddr_in6*)&from[i];
          a[0] = 6;
          for (int w = 0; w < 4; w++) {
            uint32_t x;
            memcpy(&x, (const uint8_t*)&s->sin6_addr + 4 * w, 4);
            a[1 + w] = (int32_t)ntohl(x);
          }
          a[5] = ntohs(s->sin6_port);
        }
        ages[i] = -1;
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec t;
            memcpy(&t, CMSG_DATA(c), sizeof t);
            ages[i] = nowReal - ((double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6);
          }
        }
      }
    }
  }
  res[0] = err;
  res[1] = 1;
  return Napi::Number::New(env, n);
}

// One's-complement sum of n bytes (big-endian 16-bit words), folded later.
uint32_t Sum16(const uint8_t* p, size_t n, uint32_t s) {
  for (; n >= 2; p += 2, n -= 2) s += ((uint32_t)p[0] << 8) | p[1];
  if (n) s += (uint32_t)p[0] << 8;
  return s;
}

// The UDP checksum IPv6 requires (RFC 8200 8.1): over the pseudo-header, the UDP header and
// payload (here the rest of the outer headers plus the inner frame).
void Udp6Checksum(uint8_t* ip6, int hdrLen, const uint8_t* frame, size_t frameLen) {
  uint8_t* udp = ip6 + 40;
  size_t udpLen = (size_t)(hdrLen - 40) + frameLen;
  udp[6] = udp[7] = 0;
  uint32_t s = Sum16(ip6 + 8, 32, 0);          // source and destination addresses
  s += (uint32_t)(udpLen >> 16) + (uint32_t)(udpLen & 0xffff) + IPPROTO_UDP;
  s = Sum16(udp, (size_t)(hdrLen - 40), s);    // UDP + VXLAN: 16 bytes, so the frame's words stay aligned
  s = Sum16(frame, frameLen, s);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  uint16_t c = (uint16_t)~s;
  if (c == 0) c = 0xffff;
  udp[6] = (uint8_t)(c >> 8);
  udp[7] = (uint8_t)c;
}

// The shim's per-frame errors, and a destination the kernel cannot route to (that VTEP only).
bool FrameError(int e) {
  return sluice::FrameError(e) || e == EHOSTUNREACH || e == ENETUNREACH || e == EACCES || e == EPERM;
}

// tunnelSend(fd, hdrs, hdrLens, bufs, offs, lens, count, res) -> datagrams sent.
// Message k is hdrs[k*64 .. k*64+hdrLens[k]) (outer IP + UDP + VXLAN headers) followed by
// bufs[k][offs[k] .. offs[k]+lens[k]) (the inner frame); its destination is the IP header's own
// destination address. For IPv6 the UDP checksum is computed here over both pieces. res as
// sendBatch: [errno that stopped early (0: all tried), syscalls, messages refused and skipped,
// of those EMSGSIZE (longer than the route's MTU)]; a refused message gets lens[k] = 0.
Napi::Value TunnelSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> hdrBuf = info[1].As<Napi::Buffer<uint8_t>>();
  int32_t* hdrLens = info[2].As<Napi::Int32Array>().Data();
  Napi::Array bufs = info[3].As<Napi::Array>();
  int32_t* offs = info[4].As<Napi::Int32Array>().Data();
  int32_t* lens = info[5].As<Napi::Int32Array>().Data();
  int count = info[6].As<Napi::Number>().Int32Value();
  int32_t* res = info[7].As<Napi::Int32Array>().Data();
  if (count < 0 || count > kMaxBatch || (uint32_t)count > bufs.Length() || hdrBuf.Length() < (size_t)count * kHdrStride) {
    Napi::TypeError::New(env, "sluice_tunnel: bad batch count").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint8_t* hdrs = hdrBuf.Data();
  struct mmsghdr msgs[kMaxBatch];
  struct iovec iov[kMaxBatch][2];
  union Dst { struct sockaddr_in v4; struct sockaddr_in6 v6; };
  Dst dst[kMaxBatch];
  for (int k = 0; k < count; k++) {
    uint8_t* d;
    size_t n;
    if (!BufferAt(env, bufs, k, &d, &n)) return env.Undefined();
    int hl = hdrLens[k];
    if (offs[k] < 0 || lens[k] < 0 || (size_t)offs[k] + (size_t)lens[k] > n || hl < 20 || hl > kHdrStride) {
      Napi::RangeError::New(env, "sluice_tunnel: batch slot out of its Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint8_t* h = hdrs + k * kHdrStride;
    memset(&msgs[k], 0, sizeof msgs[k]);
    memset(&dst[k], 0, sizeof dst[k]);
    if ((h[0] >> 4) == 6) {
      if (hl < 48) {
        Napi::RangeError::New(env, "sluice_tunnel: IPv6 outer header too short").ThrowAsJavaScriptException();
        return env.Undefined();
      }
      dst[k].v6.sin6_family = AF_INET6;
      memcpy(&dst[k].v6.sin6_addr, h + 24, 16);
      msgs[k].msg_hdr.msg_namelen = sizeof dst[k].v6;
      Udp6Checksum(h, hl, d + offs[k], (size_t)lens[k]);
    } else {
      dst[k].v4.sin_family = AF_INET;
      memcpy(&dst[k].v4.sin_addr, h + 16, 4);
      msgs[k].msg_hdr.msg_namelen = sizeof dst[k].v4;
    }
    msgs[k].msg_hdr.msg_name = &dst[k];
    iov[k][0].iov_base = h;
    iov[k][0].iov_len = (size_t)hl;
    iov[k][1].iov_base = d + offs[k];
    iov[k][1].iov_len = (size_t)lens[k];
    msgs[k].msg_hdr.msg_iov = iov[k];
    msgs[k].msg_hdr.msg_iovlen = 2;
  }
  int i = 0, sent = 0, sys = 0, err = 0, bad = 0, big = 0;
  while (i < count) {
    int r = sendmmsg(fd, msgs + i, (unsigned)(count - i), MSG_DONTWAIT);
    sys++;
    if (r > 0) { i += r; sent += r; continue; }
    if (r < 0 && FrameError(errno)) { bad++; big += errno == EMSGSIZE; lens[i++] = 0; continue; }
    err = r < 0 ? errno : EAGAIN;
    break;
  }
  res[0] = err;
  res[1] = sys;
  res[2] = bad;
  res[3] = big;
  return Napi::Number::New(env, sent);
}

}  // namespace

void RegisterTunnel(Napi::Env env, Napi::Object exports) {
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen));
  exports.Set("rawOpen", Napi::Function::New(env, RawOpen));
  exports.Set("udpRecv", Napi::Function::New(env, UdpRecv));
  exports.Set("tunnelSend", Napi::Function::New(env, TunnelSend));
  exports.Set("TUNNEL_HDR_STRIDE", Napi::Number::New(env, kHdrStride));
}
