// 64-byte frame generator for bench/ports.bench.ts: AF_PACKET + sendmmsg on DEV, to DSTMAC from
// SRCMAC, ethertype 0x88b5. RATE 0 = as fast as possible (batches of 64); otherwise paced:
// sends the deficit against RATE*elapsed (at most 64 at a time) and sleeps to the next frame's
// due time. Prints "<sent> <seconds>". gcc -O2 -o ports-gen ports-gen.c
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void mac(const char *s, unsigned char *m) { for (int i = 0; i < 6; i++) sscanf(s + 2 * i, "%2hhx", &m[i]); }
int main(int argc, char **argv) {
  if (argc < 6) { fprintf(stderr, "usage: DEV DSTHEX SRCHEX RATE SECS\n"); return 2; }
  prctl(PR_SET_TIMERSLACK, 1UL);
  int s = socket(AF_PACKET, SOCK_RAW, 0);
  if (s < 0) { perror("socket"); return 1; }
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = if_nametoindex(argv[1]), .sll_halen = 6 };
  if (!sll.sll_ifindex) { perror("if_nametoindex"); return 1; }
  if (bind(s, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("bind"); return 1; }
  unsigned char f[60] = {0};
  mac(argv[2], f); mac(argv[3], f + 6); f[12] = 0x88; f[13] = 0xb5;
  double rate = atof(argv[4]), secs = atof(argv[5]);
  enum { B = 64 };
  struct iovec iov[B]; struct mmsghdr mm[B];
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < B; i++) { iov[i].iov_base = f; iov[i].iov_len = sizeof f; mm[i].msg_hdr.msg_iov = &iov[i]; mm[i].msg_hdr.msg_iovlen = 1; }
  long long sent = 0; double t0 = now(), end = t0 + secs, t;
  while ((t = now()) < end) {
    int n = B;
    if (rate > 0) {
      long long due = (long long)((t - t0) * rate) + 1;
      long long d = due - sent;
      if (d <= 0) {
        double wait = (sent + 1) / rate - (t - t0);
        if (wait > 2e-6) { struct timespec ts = { 0, (long)(wait * 1e9) }; nanosleep(&ts, NULL); }
        continue;
      }
      n = d > B ? B : (int)d;
    }
    int r = sendmmsg(s, mm, n, 0);
    if (r > 0) sent += r;
  }
  printf("%lld %.6f\n", sent, now() - t0);
  return 0;
}
