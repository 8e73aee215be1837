// sluice_common.h — the few helpers every part of the shim uses (sluice_io.cc, sluice_uring.cc,
// sluice_tunnel.cc): errno names, the one-line error a failing call throws, the receive-time
// clock, and which send errors refuse only one frame (the batch goes on).
#pragma once
#include <napi.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <string>

namespace sluice {

inline std::string ErrName(int e) {
  const char* n = strerrorname_np(e);
  return n ? std::string(n) : "E" + std::to_string(e);
}

// Throws `who: op: ENAME (text)` with .code = ENAME, .errno = e, .syscall = op.
inline void ThrowErrno(Napi::Env env, const std::string& who, const char* op, int e) {
  std::string msg = who + ": " + op + ": " + ErrName(e) + " (" + strerror(e) + ")";
  Napi::Error err = Napi::Error::New(env, msg);
  err.Set("code", Napi::String::New(env, ErrName(e)));
  err.Set("errno", Napi::Number::New(env, e));
  err.Set("syscall", Napi::String::New(env, op));
  err.ThrowAsJavaScriptException();
}

// Epoch milliseconds now (CLOCK_REALTIME, the clock of tp_sec/tp_nsec and SO_TIMESTAMPNS).
inline double RealtimeMs() {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

// Per-frame send errors: skip that frame and go on. Anything else (EAGAIN, ENOBUFS, device gone) stops.
inline bool FrameError(int e) { return e == EMSGSIZE || e == EINVAL || e == EFAULT; }

// One recvmmsg slot: a single buffer, room for the sender's address and for control messages.
inline void RecvSlot(struct mmsghdr& m, struct iovec& iov, void* name, socklen_t nameLen, void* ctrl, size_t ctrlLen) {
  struct msghdr& h = m.msg_hdr;
  h.msg_name = name;
  h.msg_namelen = nameLen;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = ctrl;
  h.msg_controllen = ctrlLen;
  h.msg_flags = 0;
  m.msg_len = 0;
}

}  // namespace sluice
