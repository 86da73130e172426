/*
 * nubis guest workload: a known data set for page-sharing tests. Fills MIB MiB with pages derived
 * from SEED (page i: a splitmix64 stream seeded by SEED and i), so every page of the set is distinct
 * and two guests with the same seed hold the same set; then keeps it, untouched, forever.
 *   nubis-fill ready <seed> <mib>
 * Usage: filler SEED MIB
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL

/* splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014). */
static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int main(int argc, char **argv) {
  uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
  long mib = argc > 2 ? atol(argv[2]) : 16;
  if (mib < 1) mib = 1;
  uint64_t pages = (uint64_t)mib * 256;
  uint64_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) { printf("nubis-fill failed\n"); fflush(stdout); return 1; }
  for (uint64_t i = 0; i < pages; i++) {
    uint64_t s = seed * 0x100000001b3ULL ^ (i + 1) * 0xd1b54a32d192ed03ULL;
    uint64_t *p = mem + i * (PAGE / 8);
    for (unsigned k = 0; k < PAGE / 8; k++) p[k] = next(&s);
  }
  printf("nubis-fill ready %llu %ld\n", (unsigned long long)seed, mib);
  fflush(stdout);
  for (;;) pause();
}
