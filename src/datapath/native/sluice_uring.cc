// sluice_uring.cc — batched TAP I/O through io_uring (raw syscalls, no liburing needed).
// A TAP fd moves one frame per read()/write(): no recvmmsg/sendmmsg. Here one io_uring_enter()
// submits a whole batch of READs or WRITEs on the TAP fd; the kernel runs them inline (the fd is
// O_NONBLOCK: an empty queue completes the READ with -EAGAIN at once) and every completion is in
// the CQ ring when the call returns. Buffers are registered once (bufRegister -> id) so a batch
// names its slots by id instead of an N-API lookup per frame. Everything is per fd and optional:
// uringAttach throws (ENOSYS, EPERM: io_uring disabled by sysctl or seccomp) and the caller keeps
// the read()/write() loops of sluice_io.cc.
#include <napi.h>

#include "sluice_common.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice_uring {

constexpr unsigned kEntries = 256;   // >= the largest batch (MAX_BATCH in sluice_io.cc)
constexpr size_t kMaxBuffers = 1u << 20;

struct Uring {
  int fd = -1;
  unsigned *sqHead, *sqTail, *sqMask, *sqArray;
  unsigned *cqHead, *cqTail, *cqMask;
  io_uring_sqe* sqes;
  io_uring_cqe* cqes;
  void* sqMap; size_t sqLen;
  void* cqMap; size_t cqLen;
  void* sqeMap; size_t sqeLen;
};
// Process-wide tables (datapath workers share the addon): guarded by gLock, taken once per call.
std::mutex gLock;
std::unordered_map<int, Uring> gUrings;   // keyed by the TAP fd

struct Registered { uint8_t* data; size_t len; napi_ref ref; };
std::vector<Registered> gBufs;

std::string ErrName(int e) {
  const char* n = strerrorname_np(e);
  return n ? std::string(n) : "E" + std::to_string(e);
}

void Throw(Napi::Env env, const char* op, int e) {
  Napi::Error err = Napi::Error::New(env, std::string("io_uring: ") + op + ": " + ErrName(e) + " (" + strerror(e) + ")");
  err.Set("code", Napi::String::New(env, ErrName(e)));
  err.Set("errno", Napi::Number::New(env, e));
  err.Set("syscall", Napi::String::New(env, op));
  err.ThrowAsJavaScriptException();
}

void Unmap(Uring& u) {
  if (u.sqeMap != nullptr && u.sqeMap != MAP_FAILED) munmap(u.sqeMap, u.sqeLen);
  if (u.cqMap != nullptr && u.cqMap != MAP_FAILED && u.cqMap != u.sqMap) munmap(u.cqMap, u.cqLen);
  if (u.sqMap != nullptr && u.sqMap != MAP_FAILED) munmap(u.sqMap, u.sqLen);
  if (u.fd >= 0) close(u.fd);
  u.fd = -1;
}

// Returns 0 or an errno; `op` names the step that failed.
int Setup(Uring& u, const char** op) {
  memset(&u, 0, sizeof u);
  u.fd = -1;
  io_uring_params p;
  memset(&p, 0, sizeof p);
  int fd = (int)syscall(__NR_io_uring_setup, kEntries, &p);
  if (fd < 0) { *op = "io_uring_setup"; return errno; }
  u.fd = fd;
  u.sqLen = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  u.cqLen = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) { if (u.cqLen > u.sqLen) u.sqLen = u.cqLen; u.cqLen = u.sqLen; }
  u.sqMap = mmap(nullptr, u.sqLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  if (u.sqMap == MAP_FAILED) { *op = "mmap(SQ ring)"; int e = errno; Unmap(u); return e; }
  u.cqMap = single ? u.sqMap : mmap(nullptr, u.cqLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  if (u.cqMap == MAP_FAILED) { *op = "mmap(CQ ring)"; int e = errno; Unmap(u); return e; }
  u.sqeLen = p.sq_entries * sizeof(io_uring_sqe);
  u.sqeMap = mmap(nullptr, u.sqeLen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (u.sqeMap == MAP_FAILED) { *op = "mmap(SQEs)"; int e = errno; Unmap(u); return e; }
  uint8_t* sq = (uint8_t*)u.sqMap;
  uint8_t* cq = (uint8_t*)u.cqMap;
  u.sqHead = (unsigned*)(sq + p.sq_off.head);
  u.sqTail = (unsigned*)(sq + p.sq_off.tail);
  u.sqMask = (unsigned*)(sq + p.sq_off.ring_mask);
  u.sqArray = (unsigned*)(sq + p.sq_off.array);
  u.cqHead = (unsigned*)(cq + p.cq_off.head);
  u.cqTail = (unsigned*)(cq + p.cq_off.tail);
  u.cqMask = (unsigned*)(cq + p.cq_off.ring_mask);
  u.cqes = (io_uring_cqe*)(cq + p.cq_off.cqes);
  u.sqes = (io_uring_sqe*)u.sqeMap;
  return 0;
}

void Reap(Uring& u, int n, int32_t* out, int& left) {
  unsigned head = *u.cqHead;
  unsigned ctail = __atomic_load_n(u.cqTail, __ATOMIC_ACQUIRE);
  while (head != ctail) {
    io_uring_cqe* c = &u.cqes[head & *u.cqMask];
    if (c->user_data < (uint64_t)n) { out[c->user_data] = c->res; left--; }
    head++;
  }
  __atomic_store_n(u.cqHead, head, __ATOMIC_RELEASE);
}

int Enter(Uring& u, unsigned submit, unsigned wait) {
  for (;;) {
    int r = (int)syscall(__NR_io_uring_enter, u.fd, submit, wait, wait > 0 ? IORING_ENTER_GETEVENTS : 0u, nullptr, 0);
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
  }
}

constexpr uint64_t kCancelTag = ~0ull;

// One batch: queue `n` SQEs of `opcode` on `fd`, submit them in one call and store each
// completion's result in out[user_data]. Returns 0 or the errno of io_uring_enter. An operation
// the kernel could not finish inline (it went to a poll or a worker) is cancelled and waited for
// before returning, so no buffer is written after the call; `async` counts them (0 expected).
int RunBatch(Uring& u, int fd, uint8_t opcode, int rwFlags, int n, uint8_t* const* addr, const int32_t* len, int32_t* out, int* async) {
  unsigned tail = *u.sqTail, mask = *u.sqMask;
  for (int i = 0; i < n; i++) {
    unsigned idx = tail & mask;
    io_uring_sqe* s = &u.sqes[idx];
    memset(s, 0, sizeof *s);
    s->opcode = opcode;
    s->fd = fd;
    s->addr = (uint64_t)(uintptr_t)addr[i];
    s->len = (uint32_t)len[i];
    s->off = (uint64_t)-1;           // a stream: no file offset
    s->rw_flags = rwFlags;
    s->user_data = (uint64_t)i;
    u.sqArray[idx] = idx;
    tail++;
    out[i] = -EAGAIN;
  }
  __atomic_store_n(u.sqTail, tail, __ATOMIC_RELEASE);
  int left = n;
  int r = Enter(u, (unsigned)n, 0);
  if (r < 0) return -r;              // nothing was submitted (or the ring is broken)
  Reap(u, n, out, left);
  *async = left;
  if (left > 0) {
    // Cancel whatever is still in flight on this fd, then wait for every completion.
    unsigned t = *u.sqTail, idx = t & *u.sqMask;
    io_uring_sqe* s = &u.sqes[idx];
    memset(s, 0, sizeof *s);
    s->opcode = IORING_OP_ASYNC_CANCEL;
    s->fd = fd;
    s->cancel_flags = IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD;
    s->user_data = kCancelTag;
    u.sqArray[idx] = idx;
    __atomic_store_n(u.sqTail, t + 1, __ATOMIC_RELEASE);
    Enter(u, 1, 0);
    while (left > 0) {
      if (Enter(u, 0, 1) < 0) break;
      Reap(u, n, out, left);
    }
    Reap(u, n, out, left);           // the cancel's own completion
  }
  return 0;
}

// uringAttach(fd): an io_uring for TAP fd `fd` (idempotent). Throws when io_uring is unavailable.
Napi::Value Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::lock_guard<std::mutex> g(gLock);
  if (gUrings.count(fd) != 0) return env.Undefined();
  Uring u;
  const char* op = "";
  int e = Setup(u, &op);
  if (e != 0) { Throw(env, op, e); return env.Undefined(); }
  // Probe: a READ with RWF_NOWAIT on this fd must finish inline (a frame, or -EAGAIN when empty);
  // a kernel whose TAP lacks nowait support would answer -EOPNOTSUPP or go async: not used then.
  static uint8_t scratch[65536];
  uint8_t* a[1] = { scratch };
  int32_t l[1] = { (int32_t)sizeof scratch }, o[1] = { 0 };
  int async = 0;
  int err = RunBatch(u, fd, IORING_OP_READ, RWF_NOWAIT, 1, a, l, o, &async);
  if (err != 0 || async != 0 || (o[0] < 0 && o[0] != -EAGAIN)) {
    Unmap(u);
    Throw(env, async != 0 ? "READ did not complete inline" : "READ probe", err != 0 ? err : async != 0 ? EOPNOTSUPP : -o[0]);
    return env.Undefined();
  }
  gUrings[fd] = u;
  return env.Undefined();
}

// uringDetach(fd): release the io_uring of `fd` (before the fd is closed).
Napi::Value Detach(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::lock_guard<std::mutex> g(gLock);
  auto it = gUrings.find(fd);
  if (it != gUrings.end()) { Unmap(it->second); gUrings.erase(it); }
  return info.Env().Undefined();
}

// bufRegister(buf) -> id: remember a pool Buffer's memory (kept alive by a reference) so batches
// can name it by id. Pool buffers live as long as the pool: the table only grows.
Napi::Value BufRegister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) { Napi::TypeError::New(env, "bufRegister: a Buffer is required").ThrowAsJavaScriptException(); return env.Undefined(); }
  std::lock_guard<std::mutex> g(gLock);
  if (gBufs.size() >= kMaxBuffers) return Napi::Number::New(env, -1);
  Napi::Buffer<uint8_t> b = info[0].As<Napi::Buffer<uint8_t>>();
  napi_ref ref = nullptr;
  napi_create_reference(env, b, 1, &ref);
  gBufs.push_back({ b.Data(), b.Length(), ref });
  return Napi::Number::New(env, (double)(gBufs.size() - 1));
}

struct Slots {
  uint8_t* addr[kEntries];
  int32_t len[kEntries];
  int32_t out[kEntries];
};
thread_local Slots gSlots;   // per thread: workers may run batches at once

// Common checks; false (with a JS exception) on a bad slot.
bool Resolve(Napi::Env env, const int32_t* ids, const int32_t* offs, const int32_t* lens, int n) {
  for (int i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (id < 0 || (size_t)id >= gBufs.size()) { Napi::RangeError::New(env, "io_uring: unknown buffer id").ThrowAsJavaScriptException(); return false; }
    const Registered& r = gBufs[id];
    int64_t end = (int64_t)offs[i] + lens[i];
    if (offs[i] < 0 || lens[i] < 0 || (size_t)end > r.len) { Napi::RangeError::New(env, "io_uring: batch slot out of its Buffer").ThrowAsJavaScriptException(); return false; }
    gSlots.addr[i] = r.data + offs[i];
    gSlots.len[i] = lens[i];
  }
  return true;
}

using sluice::FrameError;

// The arguments of every buffer-id batch call: (fd, ids, offs, [caps,] lens, count, res).
struct IdBatch { int fd; int32_t* ids; int32_t* offs; int32_t* caps; int32_t* lens; int count; int32_t* res; };

IdBatch ReadIdBatch(const Napi::CallbackInfo& info, bool withCaps) {
  IdBatch b;
  int k = 0;
  b.fd = info[k++].As<Napi::Number>().Int32Value();
  b.ids = info[k++].As<Napi::Int32Array>().Data();
  b.offs = info[k++].As<Napi::Int32Array>().Data();
  b.caps = withCaps ? info[k++].As<Napi::Int32Array>().Data() : nullptr;
  b.lens = info[k++].As<Napi::Int32Array>().Data();
  b.count = info[k++].As<Napi::Number>().Int32Value();
  b.res = info[k].As<Napi::Int32Array>().Data();
  return b;
}

// Resolves the batch's slots into gSlots (caps to read into, else lens to write) under the table
// lock. With `uring`, first finds the fd's ring: none leaves *uring null and resolves nothing.
// False, with a JS exception pending, when the batch is bad.
bool ResolveIdBatch(Napi::Env env, const IdBatch& b, const char* what, Uring** uring) {
  bool ok;
  {
    std::lock_guard<std::mutex> g(gLock);
    if (uring != nullptr) {
      auto it = gUrings.find(b.fd);
      *uring = it == gUrings.end() ? nullptr : &it->second;   // node stable: unordered_map never moves values
      if (*uring == nullptr) return true;
    }
    ok = b.count >= 0 && b.count <= (int)kEntries && Resolve(env, b.ids, b.offs, b.caps != nullptr ? b.caps : b.lens, b.count);
  }
  if (!ok && !env.IsExceptionPending()) Napi::RangeError::New(env, std::string(what) + ": bad batch count").ThrowAsJavaScriptException();
  return ok;
}

// uringRecv(fd, ids, offs, caps, lens, count, res) -> slots used (the recvBatch contract):
// submits `count` READs; slot i that got a frame has lens[i] = its length, a slot that found the
// queue empty has lens[i] = 0 (skip it, keep its buffer). Frames keep their order by slot.
// res[0] = EAGAIN when the queue ran dry (or the errno that ended the batch, 0 when it filled),
// res[1] = syscalls.
Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IdBatch b = ReadIdBatch(info, true);
  int fd = b.fd, count = b.count;
  int32_t* lens = b.lens;
  int32_t* res = b.res;
  Uring* u = nullptr;
  if (!ResolveIdBatch(env, b, "io_uring", &u)) return env.Undefined();
  if (u == nullptr) { res[0] = EBADF; res[1] = 0; return Napi::Number::New(env, 0); }
  int async = 0;
  // RWF_NOWAIT: an empty queue completes the READ with -EAGAIN instead of arming a poll.
  int err = RunBatch(*u, fd, IORING_OP_READ, RWF_NOWAIT, count, gSlots.addr, gSlots.len, gSlots.out, &async);
  int used = 0, frames = 0, stop = 0;
  for (int i = 0; i < count; i++) {
    int32_t r = gSlots.out[i];
    // tun_put_user returns the whole frame's length even when it was cut to fit: longer than the
    // slot is an oversized frame (negative: counted and dropped by the caller).
    if (r > 0) { lens[i] = r > gSlots.len[i] ? -r : r; used = i + 1; frames++; }
    else { lens[i] = 0; if (stop == 0 && r < 0) stop = -r; }
  }
  res[0] = err != 0 ? err : frames == count ? 0 : (stop != 0 ? stop : EAGAIN);
  res[1] = 1;
  return Napi::Number::New(env, used);
}

// uringSend(fd, ids, offs, lens, count, res) -> frames sent; the contract of sendBatch: res[0] =
// errno that stopped frames (0 if all were taken), res[1] = syscalls, res[2] = frames refused
// (EMSGSIZE/EINVAL/EFAULT), res[3] = of those EMSGSIZE. On return lens[0, sent) hold the lengths
// of the frames sent and lens[sent, sent + res[2]) are 0.
Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IdBatch b = ReadIdBatch(info, false);
  int fd = b.fd, count = b.count;
  int32_t* lens = b.lens;
  int32_t* res = b.res;
  Uring* u = nullptr;
  if (!ResolveIdBatch(env, b, "io_uring", &u)) return env.Undefined();
  if (u == nullptr) { res[0] = EBADF; res[1] = 0; res[2] = 0; res[3] = 0; return Napi::Number::New(env, 0); }
  int async = 0;
  int err = RunBatch(*u, fd, IORING_OP_WRITE, 0, count, gSlots.addr, gSlots.len, gSlots.out, &async);
  int sent = 0, bad = 0, big = 0, other = 0;
  for (int i = 0; i < count; i++) {
    int32_t r = gSlots.out[i];
    if (r >= 0) { lens[sent++] = gSlots.len[i]; continue; }
    if (FrameError(-r)) { bad++; big += (-r == EMSGSIZE); } else if (other == 0) { other = -r; }
  }
  for (int i = sent; i < sent + bad; i++) lens[i] = 0;
  res[0] = err != 0 ? err : other;
  res[1] = 1;
  res[2] = bad;
  res[3] = big;
  return Napi::Number::New(env, sent);
}

// idsRecv(fd, ids, offs, caps, lens, count, res) -> frames: recvBatch's TAP read() loop on
// registered buffers (no N-API lookup per frame). Stops at the first error (EAGAIN: queue empty).
Napi::Value IdsRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IdBatch b = ReadIdBatch(info, true);
  int fd = b.fd, count = b.count;
  int32_t* lens = b.lens;
  int32_t* res = b.res;
  if (!ResolveIdBatch(env, b, "idsRecv", nullptr)) return env.Undefined();
  int n = 0, sys = 0, err = 0;
  for (; n < count; n++) {
    ssize_t r = read(fd, gSlots.addr[n], (size_t)gSlots.len[n]);
    sys++;
    if (r < 0) { err = errno; break; }
    lens[n] = r > (ssize_t)gSlots.len[n] ? -(int32_t)r : (int32_t)r;   // cut to fit: oversized
  }
  res[0] = err;
  res[1] = sys;
  return Napi::Number::New(env, n);
}

// idsSend(fd, ids, offs, lens, count, res) -> frames sent: sendBatch's TAP write() loop (same
// res contract: refused frames skipped with lens 0, other errors stop the batch).
Napi::Value IdsSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IdBatch b = ReadIdBatch(info, false);
  int fd = b.fd, count = b.count;
  int32_t* lens = b.lens;
  int32_t* res = b.res;
  if (!ResolveIdBatch(env, b, "idsSend", nullptr)) return env.Undefined();
  int i = 0, sent = 0, sys = 0, err = 0, bad = 0, big = 0;
  for (; i < count; i++) {
    ssize_t r = write(fd, gSlots.addr[i], (size_t)gSlots.len[i]);
    sys++;
    if (r >= 0) { sent++; continue; }
    if (FrameError(errno)) { bad++; big += errno == EMSGSIZE; lens[i] = 0; continue; }
    err = errno;
    break;
  }
  res[0] = err;
  res[1] = sys;
  res[2] = bad;
  res[3] = big;
  return Napi::Number::New(env, sent);
}

}  // namespace sluice_uring

// Called from sluice_io.cc's module Init.
void RegisterUring(Napi::Env env, Napi::Object exports) {
  exports.Set("uringAttach", Napi::Function::New(env, sluice_uring::Attach));
  exports.Set("uringDetach", Napi::Function::New(env, sluice_uring::Detach));
  exports.Set("bufRegister", Napi::Function::New(env, sluice_uring::BufRegister));
  exports.Set("uringRecv", Napi::Function::New(env, sluice_uring::Recv));
  exports.Set("uringSend", Napi::Function::New(env, sluice_uring::Send));
  exports.Set("idsRecv", Napi::Function::New(env, sluice_uring::IdsRecv));
  exports.Set("idsSend", Napi::Function::New(env, sluice_uring::IdsSend));
}
