/*
 * delayfwd: a user-space delay line between two TAP devices, the test bed's
 * stand-in for netem (the CI kernel has none).
 *
 * It creates two TAP devices in the namespace it runs in (the root one), says
 * "ready" on stdout, and from then on copies every Ethernet frame read from
 * one TAP to the other after holding it for the configured one-way delay. The
 * test moves each TAP into its own network namespace with
 * `ip link set TAP netns NS`; the file descriptors stay valid across the move
 * (a TAP belongs to its fd, not to a namespace).
 *
 * Timing, which is the whole point of the program:
 * - It runs at SCHED_FIFO priority (sched(7)); at normal priority releases
 *   come tens of milliseconds late on a busy 2-core machine.
 * - One thread serves both directions. It sleeps in ppoll(2) until either a
 *   frame arrives or ~100 us before the next release time (the timeout is
 *   derived from an absolute CLOCK_MONOTONIC deadline; hrtimer slack is 0 for
 *   real-time tasks), then busy-waits the rest so the release is exact.
 *   ppoll rather than clock_nanosleep(TIMER_ABSTIME) because a frame arriving
 *   meanwhile must be read (and time-stamped) at once, not after the sleep.
 *   Spinning longer than ~100 us per release trips real-time throttling
 *   (sched_rt_runtime_us) under bulk traffic.
 * - Arrival time is the moment read(2) returns the frame; the hold is counted
 *   from there.
 *
 * Options (all times in milliseconds unless said):
 *   --tap-a NAME --tap-b NAME   the two TAP devices to create (IFNAMSIZ-1 chars)
 *   --delay MS                  one-way delay, both directions (default 10)
 *   --delay-ab MS, --delay-ba MS  per direction (a->b, b->a)
 *   --jitter MS                 per-packet hold = delay + uniform(-J, +J), at least 0
 *   --reorder                   with jitter, let a packet overtake an earlier one;
 *                               by default order is kept per direction: a packet is
 *                               never released before the previous one of its
 *                               direction (hold = max(delay+jitter, previous release)),
 *                               like a FIFO link, so TCP sees no reordering
 *   --loss PCT                  random loss, each direction, each frame independently
 *   --loss-ab PCT, --loss-ba PCT  per direction
 *   --seed N                    seed of the PRNG (loss and jitter), default 1
 *   --duration S                run time; exits by itself after it (default 60)
 *   --log FILE                  per-frame record written at exit (format below)
 *   --prio N                    SCHED_FIFO priority (default 50); 0 = stay SCHED_OTHER
 *   --spin-us N                 busy-wait window before a release (default 100)
 *   --max-queue N               frames held at once, beyond it a frame is dropped
 *                               as overflow (default 16384)
 * SIGTERM/SIGINT end the run early (the log is still written). With
 * PR_SET_PDEATHSIG the forwarder also ends when the test process dies.
 *
 * Log format (text). Header lines start with '#':
 *   # delayfwd 1
 *   # clock mono_ns=<CLOCK_MONOTONIC> real_ns=<CLOCK_REALTIME> (read together at start,
 *     so real = mono - mono_ns + real_ns; pcap time stamps are CLOCK_REALTIME)
 *   # config delay_ab_us=.. delay_ba_us=.. jitter_us=.. reorder=0|1 loss_ab_ppm=..
 *     loss_ba_ppm=.. seed=.. fifo=0|1 spin_us=..
 *   # counters ...
 * then one line per frame, in arrival order:
 *   dir arrival_ns planned_ns written_ns fate len l3 proto flags seq ack plen sport dport tsval tsecr
 *   dir: ab or ba; times CLOCK_MONOTONIC ns (planned/written 0 when not forwarded;
 *   written is taken just before write(2));
 *   fate: F forwarded, L lost (random loss), O overflow, E write error, P still held at exit;
 *   len: frame length; l3: 4, 6 or 0 (not IP); proto: IP protocol number;
 *   for TCP: flags (the 8 flag bits, hex), seq, ack, plen (payload length),
 *   sport, dport; zeros otherwise; tsval, tsecr from the Timestamps option, "-" without one.
 *
 * Build: gcc -O2 -Wall -o delayfwd delayfwd.c (the live tests do this).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define SLOT_BYTES 1536 /* MTU 1500 + Ethernet header, rounded */
#define CHUNK_RECORDS 65536

enum fate { F_FWD = 'F', F_LOST = 'L', F_OVERFLOW = 'O', F_WERR = 'E', F_PENDING = 'P' };

struct record {
  uint64_t arrival, planned, written;
  uint32_t seq, ack, tsval, tsecr;
  uint16_t len, plen, sport, dport;
  uint8_t dir, fate, l3, proto, flags, has_ts;
};

struct chunk {
  struct chunk *next;
  size_t used;
  struct record rec[CHUNK_RECORDS];
};

struct slot {
  uint64_t release;
  uint64_t order; /* tie-break: FIFO among equal release times */
  struct record *rec;
  uint16_t len;
  uint8_t dir;
  unsigned char data[SLOT_BYTES];
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static uint64_t now_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: small, seedable, good enough for loss and jitter draws. */
static uint64_t rng_state;
static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
/* uniform in [0, 1) */
static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

static int open_tap(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    perror("open /dev/net/tun");
    exit(2);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  /* IFF_NO_PI: bare frames. No IFF_VNET_HDR, so the kernel never hands us a
   * GSO super-frame: the stack segments to the MTU before the TAP (the
   * capture on the TAP sees what a wire would carry). */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    fprintf(stderr, "TUNSETIFF %s: %s\n", name, strerror(errno));
    exit(2);
  }
  return fd;
}

/* ---- min-heap of held frames, keyed by (release, order) ---- */
static struct slot **heap;
static size_t heap_len;

static int slot_before(const struct slot *a, const struct slot *b) {
  return a->release < b->release || (a->release == b->release && a->order < b->order);
}
static void heap_push(struct slot *s) {
  size_t i = heap_len++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!slot_before(s, heap[p])) break;
    heap[i] = heap[p];
    i = p;
  }
  heap[i] = s;
}
static struct slot *heap_pop(void) {
  struct slot *top = heap[0];
  struct slot *last = heap[--heap_len];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const struct slot *best = last;
    if (l < heap_len && slot_before(heap[l], best)) { m = l; best = heap[l]; }
    if (r < heap_len && slot_before(heap[r], best)) { m = r; }
    if (m == i) break;
    heap[i] = heap[m];
    i = m;
  }
  if (heap_len > 0) heap[i] = last;
  return top;
}

/* ---- per-frame log ---- */
static struct chunk *log_head, *log_tail;
static struct record *new_record(void) {
  if (!log_tail || log_tail->used == CHUNK_RECORDS) {
    struct chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->next = NULL;
    c->used = 0;
    if (log_tail) log_tail->next = c; else log_head = c;
    log_tail = c;
  }
  struct record *r = &log_tail->rec[log_tail->used++];
  memset(r, 0, sizeof *r);
  return r;
}

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Headers only, for the log: IPv4/IPv6 (no extension headers) and TCP. */
static void describe(struct record *r, const unsigned char *f, size_t len) {
  if (len < 14) return;
  uint16_t et = rd16(f + 12);
  const unsigned char *ip = f + 14;
  size_t iplen = len - 14, hl, total;
  const unsigned char *l4;
  if (et == 0x0800 && iplen >= 20 && (ip[0] >> 4) == 4) {
    r->l3 = 4;
    r->proto = ip[9];
    hl = (size_t)(ip[0] & 15) * 4;
    total = rd16(ip + 2);
    if ((rd16(ip + 6) & 0x1fff) != 0) return; /* a non-first fragment */
  } else if (et == 0x86dd && iplen >= 40 && (ip[0] >> 4) == 6) {
    r->l3 = 6;
    r->proto = ip[6];
    hl = 40;
    total = 40 + (size_t)rd16(ip + 4);
  } else {
    return;
  }
  if (r->proto != 6 || total > iplen || hl + 20 > total) return;
  l4 = ip + hl;
  size_t thl = (size_t)(l4[12] >> 4) * 4;
  r->sport = rd16(l4);
  r->dport = rd16(l4 + 2);
  r->seq = rd32(l4 + 4);
  r->ack = rd32(l4 + 8);
  r->flags = l4[13];
  r->plen = (uint16_t)(total >= hl + thl ? total - hl - thl : 0);
  /* TCP options (RFC 9293 section 3.1): find Timestamps, kind 8 length 10 (RFC 7323 section 3). */
  if (thl > 20 && hl + thl <= total) {
    const unsigned char *o = l4 + 20, *end = l4 + thl;
    while (o < end) {
      if (o[0] == 0) break;
      if (o[0] == 1) { o++; continue; }
      if (o + 1 >= end || o[1] < 2 || o + o[1] > end) break;
      if (o[0] == 8 && o[1] == 10) {
        r->has_ts = 1;
        r->tsval = rd32(o + 2);
        r->tsecr = rd32(o + 6);
        break;
      }
      o += o[1];
    }
  }
}

static double arg_num(const char *opt, const char *v) {
  char *end;
  double d = strtod(v, &end);
  if (!*v || *end || d < 0) {
    fprintf(stderr, "%s: expected a non-negative number, got \"%s\"\n", opt, v);
    exit(2);
  }
  return d;
}

int main(int argc, char **argv) {
  const char *tap_name[2] = {NULL, NULL}, *log_path = NULL;
  double delay[2] = {10, 10}, loss[2] = {0, 0}, jitter = 0, duration = 60;
  int reorder = 0, prio = 50;
  long spin_us = 100, max_queue = 16384;
  unsigned long long seed = 1;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--reorder")) { reorder = 1; continue; }
    if (i + 1 >= argc) { fprintf(stderr, "%s: missing value (see the comment at the top of delayfwd.c)\n", a); return 2; }
    const char *v = argv[++i];
    if (!strcmp(a, "--tap-a")) tap_name[0] = v;
    else if (!strcmp(a, "--tap-b")) tap_name[1] = v;
    else if (!strcmp(a, "--delay")) delay[0] = delay[1] = arg_num(a, v);
    else if (!strcmp(a, "--delay-ab")) delay[0] = arg_num(a, v);
    else if (!strcmp(a, "--delay-ba")) delay[1] = arg_num(a, v);
    else if (!strcmp(a, "--jitter")) jitter = arg_num(a, v);
    else if (!strcmp(a, "--loss")) loss[0] = loss[1] = arg_num(a, v);
    else if (!strcmp(a, "--loss-ab")) loss[0] = arg_num(a, v);
    else if (!strcmp(a, "--loss-ba")) loss[1] = arg_num(a, v);
    else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 0);
    else if (!strcmp(a, "--duration")) duration = arg_num(a, v);
    else if (!strcmp(a, "--log")) log_path = v;
    else if (!strcmp(a, "--prio")) prio = (int)arg_num(a, v);
    else if (!strcmp(a, "--spin-us")) spin_us = (long)arg_num(a, v);
    else if (!strcmp(a, "--max-queue")) max_queue = (long)arg_num(a, v);
    else { fprintf(stderr, "unknown option %s (see the comment at the top of delayfwd.c)\n", a); return 2; }
  }
  if (!tap_name[0] || !tap_name[1]) { fprintf(stderr, "--tap-a and --tap-b are required\n"); return 2; }
  if (max_queue < 1) max_queue = 1;
  rng_state = seed;

  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int fd[2] = {open_tap(tap_name[0]), open_tap(tap_name[1])};

  /* Every slot allocated and touched up front: no page fault or allocation
   * on the release path. */
  struct slot *pool = calloc((size_t)max_queue, sizeof *pool);
  struct slot **free_list = malloc((size_t)max_queue * sizeof *free_list);
  heap = malloc((size_t)max_queue * sizeof *heap);
  if (!pool || !free_list || !heap) { fprintf(stderr, "out of memory\n"); return 2; }
  size_t free_len = 0;
  for (long i = max_queue - 1; i >= 0; i--) free_list[free_len++] = &pool[i];
  new_record(); /* first log chunk */
  log_tail->used = 0;

  int fifo = 0;
  if (prio > 0) {
    struct sched_param sp = {.sched_priority = prio};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0) fifo = 1;
    else fprintf(stderr, "delayfwd: SCHED_FIFO refused (%s); releases will be late under load\n", strerror(errno));
  }
  if (mlockall(MCL_CURRENT) != 0) fprintf(stderr, "delayfwd: mlockall: %s\n", strerror(errno));

  uint64_t mono0 = now_ns(CLOCK_MONOTONIC), real0 = now_ns(CLOCK_REALTIME);
  uint64_t deadline = mono0 + (uint64_t)(duration * 1e9);
  uint64_t delay_ns[2] = {(uint64_t)(delay[0] * 1e6), (uint64_t)(delay[1] * 1e6)};
  uint64_t jitter_ns = (uint64_t)(jitter * 1e6), spin_ns = (uint64_t)spin_us * 1000;
  uint32_t loss_ppm[2] = {(uint32_t)(loss[0] * 1e4 + 0.5), (uint32_t)(loss[1] * 1e4 + 0.5)};
  uint64_t last_release[2] = {0, 0}, order = 0;
  unsigned long n_in[2] = {0, 0}, n_out[2] = {0, 0}, n_lost = 0, n_overflow = 0, n_werr = 0, n_oversize = 0;
  unsigned long n_late = 0; /* released more than 200 us after plan */
  int alive[2] = {1, 1};
  static unsigned char buf[65536 + 64];

  printf("ready %s %s\n", tap_name[0], tap_name[1]);
  fflush(stdout);

  while (!stop_flag && (alive[0] || alive[1])) {
    uint64_t now = now_ns(CLOCK_MONOTONIC);
    if (now >= deadline) break;

    /* Release everything due. */
    while (heap_len > 0 && heap[0]->release <= now) {
      struct slot *s = heap_pop();
      int out = 1 - s->dir;
      /* Stamped before write(2): the write itself runs the receiving
       * namespace's stack (softirq) before it returns, tens of us later. */
      uint64_t t = now_ns(CLOCK_MONOTONIC);
      ssize_t w = alive[out] ? write(fd[out], s->data, s->len) : -1;
      if (s->rec) {
        s->rec->written = t;
        s->rec->fate = w == (ssize_t)s->len ? F_FWD : F_WERR;
      }
      if (w == (ssize_t)s->len) n_out[s->dir]++; else n_werr++;
      if (t > s->release + 200000) n_late++;
      free_list[free_len++] = s;
      now = now_ns(CLOCK_MONOTONIC);
    }

    /* Read everything waiting, time-stamping each frame as it comes. */
    int got = 0;
    for (int d = 0; d < 2; d++) {
      while (alive[d]) {
        ssize_t n = read(fd[d], buf, sizeof buf);
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) break;
          /* EBADFD/EIO: the device was deleted (a fault test); keep serving the other side. */
          fprintf(stderr, "delayfwd: read %s: %s; that side is gone\n", tap_name[d], strerror(errno));
          alive[d] = 0;
          break;
        }
        uint64_t t = now_ns(CLOCK_MONOTONIC);
        got = 1;
        n_in[d]++;
        struct record *r = new_record();
        if (r) {
          r->arrival = t;
          r->dir = (uint8_t)d;
          r->len = (uint16_t)(n > 65535 ? 65535 : n);
          describe(r, buf, (size_t)n);
        }
        if (loss_ppm[d] && rng_next() % 1000000 < loss_ppm[d]) {
          if (r) r->fate = F_LOST;
          n_lost++;
          continue;
        }
        if (n > SLOT_BYTES) {
          if (r) r->fate = F_OVERFLOW;
          n_oversize++;
          continue;
        }
        if (free_len == 0) {
          if (r) r->fate = F_OVERFLOW;
          n_overflow++;
          continue;
        }
        uint64_t hold = delay_ns[d];
        if (jitter_ns) {
          double j = (rng_unit() * 2 - 1) * (double)jitter_ns;
          hold = (double)hold + j < 0 ? 0 : (uint64_t)((double)hold + j);
        }
        uint64_t release = t + hold;
        if (!reorder && release < last_release[d]) release = last_release[d];
        last_release[d] = release;
        struct slot *s = free_list[--free_len];
        s->release = release;
        s->order = order++;
        s->dir = (uint8_t)d;
        s->len = (uint16_t)n;
        s->rec = r;
        memcpy(s->data, buf, (size_t)n);
        if (r) {
          r->planned = release;
          r->fate = F_PENDING;
        }
        heap_push(s);
      }
    }
    if (got) continue;

    uint64_t next = heap_len > 0 ? heap[0]->release : deadline;
    if (next > now + spin_ns) {
      uint64_t wait = next - spin_ns - now;
      struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000ull), .tv_nsec = (long)(wait % 1000000000ull)};
      struct pollfd p[2] = {{.fd = alive[0] ? fd[0] : -1, .events = POLLIN},
                            {.fd = alive[1] ? fd[1] : -1, .events = POLLIN}};
      ppoll(p, 2, &ts, NULL);
    }
    /* else: busy-wait, polling the TAPs with non-blocking reads meanwhile. */
  }

  if (log_path) {
    FILE *f = fopen(log_path, "w");
    if (!f) {
      fprintf(stderr, "delayfwd: %s: %s\n", log_path, strerror(errno));
      return 1;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fprintf(f, "# delayfwd 1\n");
    fprintf(f, "# clock mono_ns=%llu real_ns=%llu\n", (unsigned long long)mono0, (unsigned long long)real0);
    fprintf(f, "# config delay_ab_us=%llu delay_ba_us=%llu jitter_us=%llu reorder=%d loss_ab_ppm=%u loss_ba_ppm=%u seed=%llu fifo=%d spin_us=%ld\n",
            (unsigned long long)(delay_ns[0] / 1000), (unsigned long long)(delay_ns[1] / 1000),
            (unsigned long long)(jitter_ns / 1000), reorder, loss_ppm[0], loss_ppm[1], seed, fifo, spin_us);
    fprintf(f, "# counters in_ab=%lu in_ba=%lu out_ab=%lu out_ba=%lu lost=%lu overflow=%lu oversize=%lu write_errors=%lu late=%lu held_at_exit=%zu\n",
            n_in[0], n_in[1], n_out[0], n_out[1], n_lost, n_overflow, n_oversize, n_werr, n_late, heap_len);
    fprintf(f, "# dir arrival_ns planned_ns written_ns fate len l3 proto flags seq ack plen sport dport tsval tsecr\n");
    for (struct chunk *c = log_head; c; c = c->next) {
      for (size_t i = 0; i < c->used; i++) {
        const struct record *r = &c->rec[i];
        fprintf(f, "%s %llu %llu %llu %c %u %u %u %x %u %u %u %u %u", r->dir ? "ba" : "ab",
                (unsigned long long)r->arrival, (unsigned long long)r->planned, (unsigned long long)r->written,
                r->fate ? r->fate : '?', r->len, r->l3, r->proto, r->flags, r->seq, r->ack, r->plen, r->sport,
                r->dport);
        if (r->has_ts) fprintf(f, " %u %u\n", r->tsval, r->tsecr);
        else fputs(" - -\n", f);
      }
    }
    if (fclose(f) != 0) {
      fprintf(stderr, "delayfwd: writing %s: %s\n", log_path, strerror(errno));
      return 1;
    }
  }
  fprintf(stderr, "delayfwd: done in_ab=%lu in_ba=%lu out_ab=%lu out_ba=%lu lost=%lu overflow=%lu late=%lu fifo=%d\n",
          n_in[0], n_in[1], n_out[0], n_out[1], n_lost, n_overflow, n_late, fifo);
  return 0;
}
