// Receiver for bench/control-plane.bench.ts: counts ethertype-0x88b5 frames arriving on DEV for
// SECS seconds and reports the longest gap between two consecutive ones (kernel receive
// timestamps, SO_TIMESTAMPNS), after the first frame. Prints "<frames> <max_gap_us> <gaps_over_1ms>".
// gcc -O2 -o control-plane-gap control-plane-gap.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: DEV SECS\n"); return 2; }
  int s = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
  if (s < 0) { perror("socket"); return 1; }
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(0x88b5), .sll_ifindex = if_nametoindex(argv[1]) };
  if (!sll.sll_ifindex) { perror("if_nametoindex"); return 1; }
  if (bind(s, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("bind"); return 1; }
  int one = 1, rcv = 8 << 20;
  setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
  double end = now() + atof(argv[2]);
  long long frames = 0, over = 0; double last = 0, maxgap = 0;
  unsigned char buf[2048]; char ctrl[256];
  struct pollfd pfd = { .fd = s, .events = POLLIN };
  while (now() < end) {
    if (poll(&pfd, 1, 50) <= 0) continue;
    for (;;) {
      struct iovec iov = { buf, sizeof buf };
      struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl };
      if (recvmsg(s, &mh, MSG_DONTWAIT) < 0) break;
      double ts = 0;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) { struct timespec t; memcpy(&t, CMSG_DATA(c), sizeof t); ts = t.tv_sec + t.tv_nsec / 1e9; }
      if (frames > 0 && ts > 0) { double g = ts - last; if (g > maxgap) maxgap = g; if (g > 1e-3) over++; }
      if (ts > 0) last = ts;
      frames++;
    }
  }
  printf("%lld %.1f %lld\n", frames, maxgap * 1e6, over);
  return 0;
}
