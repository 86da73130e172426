/*
 * nubis guest disk checker: writes a known pattern to a block device continuously and proves that
 * every block it wrote still holds what it wrote last (before, during and after a live migration).
 * Each 4 KiB block of the first MIB MiB holds a header (magic, block index, version) and a fill byte
 * derived from both; the table of versions lives in memory (it migrates with the guest). Writes and
 * reads use O_DIRECT|O_DSYNC, so they reach the virtual disk and are read back from it, never from
 * the page cache. Every 100 ms it writes RATE/10 blocks (round robin, new versions) and checks a
 * slice of the written blocks; a full pass is reported as
 *   nubis-disk-pass <n> ok <checked-blocks>   or   nubis-disk-bad <block> <expected> <found>
 * and every second  nubis-disk-hb <counter> <writes-total>
 * Usage: diskcheck DEVICE [MIB [RATE]]   (RATE in blocks/s, default 256 = 1 MiB/s; 0 = verify only)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096UL
#define MAGIC 0x6e75626973646b31ULL /* "nubisdk1" */

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static uint8_t fill_byte(uint64_t idx, uint32_t ver) { return (uint8_t)((idx * 37 + ver * 11 + 3) & 0xff); }

static void fill(uint8_t *p, uint64_t idx, uint32_t ver) {
  uint64_t m = MAGIC;
  memset(p, fill_byte(idx, ver), BLOCK);
  memcpy(p, &m, 8);
  memcpy(p + 8, &idx, 8);
  memcpy(p + 16, &ver, 4);
}

/* The version found in block p (0 when it holds no valid pattern for idx). */
static uint32_t found_version(const uint8_t *p, uint64_t idx) {
  uint64_t m, i;
  uint32_t v;
  memcpy(&m, p, 8);
  memcpy(&i, p + 8, 8);
  memcpy(&v, p + 16, 4);
  if (m != MAGIC || i != idx) return 0;
  uint8_t b = fill_byte(idx, v);
  for (size_t k = 24; k < BLOCK; k++)
    if (p[k] != b) return 0;
  return v;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: diskcheck DEVICE [MIB [RATE]]\n");
    return 2;
  }
  const char *dev = argv[1];
  long mib = argc > 2 ? atol(argv[2]) : 32;
  long rate = argc > 3 ? atol(argv[3]) : 256;
  if (mib < 1) mib = 1;
  if (rate < 0) rate = 0;
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; i++) { /* the device node may appear after init starts us */
    fd = open(dev, O_RDWR | O_DIRECT | O_DSYNC);
    if (fd < 0) usleep(100000);
  }
  uint64_t blocks = (uint64_t)mib * (1024 * 1024 / BLOCK);
  off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
  if (size > 0 && (uint64_t)size / BLOCK < blocks) blocks = (uint64_t)size / BLOCK;
  uint32_t *ver = calloc(blocks, sizeof *ver);
  uint8_t *buf = NULL;
  if (fd < 0 || size <= 0 || !ver || posix_memalign((void **)&buf, BLOCK, BLOCK)) {
    printf("nubis-disk-bad open %s\n", dev);
    fflush(stdout);
    return 1;
  }
  printf("nubis-disk ready %s %lu blocks rate %ld blocks/s\n", dev, (unsigned long)blocks, rate);
  fflush(stdout);
  uint64_t hb = 0, writes = 0, wcursor = 0, vcursor = 0, pass = 0, checked = 0, written = 0;
  uint64_t next_hb = now_ms() + 1000, next_tick = now_ms();
  uint64_t per_tick = (uint64_t)rate / 10 + (rate > 0 && rate < 10);
  uint64_t verify_per_tick = blocks / 20 + 1; /* a full pass every ~2 s (longer under TCG) */
  for (;;) {
    for (uint64_t k = 0; k < per_tick; k++) {
      uint64_t i = wcursor;
      wcursor = (wcursor + 1) % blocks;
      uint32_t v = ver[i] + 1;
      fill(buf, i, v);
      if (pwrite(fd, buf, BLOCK, (off_t)(i * BLOCK)) != (ssize_t)BLOCK) {
        printf("nubis-disk-bad write %lu\n", (unsigned long)i);
        fflush(stdout);
        continue;
      }
      if (ver[i] == 0) written++;
      ver[i] = v; /* only after the write completed (O_DSYNC): the disk holds v */
      writes++;
    }
    for (uint64_t k = 0; k < verify_per_tick; k++) {
      uint64_t i = vcursor;
      if (ver[i]) {
        uint32_t f = pread(fd, buf, BLOCK, (off_t)(i * BLOCK)) == (ssize_t)BLOCK ? found_version(buf, i) : 0;
        if (f != ver[i]) {
          printf("nubis-disk-bad %lu %u %u\n", (unsigned long)i, ver[i], f);
          fflush(stdout);
        }
        checked++;
      }
      if (++vcursor == blocks) {
        vcursor = 0;
        printf("nubis-disk-pass %lu ok %lu written %lu\n", (unsigned long)++pass, (unsigned long)checked,
               (unsigned long)written);
        fflush(stdout);
        checked = 0;
      }
    }
    uint64_t t = now_ms();
    if (t >= next_hb) {
      printf("nubis-disk-hb %lu %lu\n", (unsigned long)++hb, (unsigned long)writes);
      fflush(stdout);
      next_hb = t + 1000;
    }
    next_tick += 100;
    if (next_tick > t) usleep((useconds_t)((next_tick - t) * 1000));
    else next_tick = t;
  }
}
