/*
 * nubis guest workload: dirties MIB MiB of memory at RATE MiB/s and proves its memory stays intact.
 * Each 4 KiB page holds a header (page index, version) and a fill byte derived from both; a table
 * of versions lives elsewhere in memory. Every 100 ms it rewrites RATE/10 MiB of pages (new
 * versions) and checks a slice of all pages against the table; a full pass is reported as
 *   nubis-pass <n> ok <pages>      or   nubis-bad <page> <expected-version> <found-version>
 * and every second a heartbeat with a counter that survives migration:
 *   nubis-hb <counter> <dirtied-pages-total>
 * Usage: dirtier MIB RATE   (RATE 0 = idle, RATE < 0 = as fast as it can)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void fill(uint8_t *p, uint64_t idx, uint32_t ver) {
  memset(p, (int)((idx * 131 + ver * 7 + 1) & 0xff), PAGE);
  memcpy(p, &idx, 8);
  memcpy(p + 8, &ver, 4);
}

static int check(const uint8_t *p, uint64_t idx, uint32_t ver) {
  uint64_t i; uint32_t v;
  memcpy(&i, p, 8);
  memcpy(&v, p + 8, 4);
  if (i != idx || v != ver) return 0;
  uint8_t b = (uint8_t)((idx * 131 + ver * 7 + 1) & 0xff);
  for (size_t k = 16; k < PAGE; k += 64) if (p[k] != b) return 0;
  return p[PAGE - 1] == b;
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 16;
  double rate = argc > 2 ? atof(argv[2]) : 0;
  if (mib < 1) mib = 1;
  uint64_t pages = (uint64_t)mib * 256;
  uint8_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  uint32_t *ver = calloc(pages, sizeof *ver);
  if (mem == MAP_FAILED || !ver) { printf("nubis-bad alloc\n"); fflush(stdout); return 1; }
  for (uint64_t i = 0; i < pages; i++) fill(mem + i * PAGE, i, 0);
  printf("nubis-workload ready %ld MiB rate %.1f MiB/s\n", mib, rate);
  fflush(stdout);
  uint64_t hb = 0, dirtied = 0, cursor = 0, vcursor = 0, pass = 0;
  uint64_t next_hb = now_ms() + 1000, next_tick = now_ms();
  uint64_t per_tick = rate > 0 ? (uint64_t)(rate * 256 / 10) : 0;
  uint64_t verify_per_tick = pages / 20 + 1; /* a full check every ~2 s */
  for (;;) {
    uint64_t n = rate < 0 ? pages / 8 + 1 : per_tick;
    for (uint64_t k = 0; k < n; k++) {
      uint64_t i = cursor++ % pages;
      fill(mem + i * PAGE, i, ++ver[i]);
      dirtied++;
    }
    for (uint64_t k = 0; k < verify_per_tick; k++) {
      uint64_t i = vcursor % pages;
      if (!check(mem + i * PAGE, i, ver[i])) {
        uint32_t found; memcpy(&found, mem + i * PAGE + 8, 4);
        printf("nubis-bad %llu %u %u\n", (unsigned long long)i, ver[i], found);
        fflush(stdout);
        fill(mem + i * PAGE, i, ver[i]); /* repair so one bad page is reported once */
      }
      if (++vcursor % pages == 0) {
        printf("nubis-pass %llu ok %llu\n", (unsigned long long)++pass, (unsigned long long)pages);
        fflush(stdout);
      }
    }
    uint64_t t = now_ms();
    if (t >= next_hb) {
      printf("nubis-hb %llu %llu\n", (unsigned long long)++hb, (unsigned long long)dirtied);
      fflush(stdout);
      next_hb += 1000;
      if (next_hb < t) next_hb = t + 1000;
    }
    if (rate >= 0) {
      next_tick += 100;
      if (next_tick > t) usleep((useconds_t)((next_tick - t) * 1000));
      else next_tick = t;
    }
  }
}
