#ifndef SWIFTFABRIC_RUNTIME_COUNTERS_H
#define SWIFTFABRIC_RUNTIME_COUNTERS_H
/* Counts heap allocations and Swift runtime calls (retain/release, exclusivity checks) made by
 * code linked into this executable, so a benchmark can prove its steady-state loop makes none.
 * The definitions interpose malloc & co. and the Swift runtime entry points for the whole
 * process and forward to the real ones (swift-nio's allocation-counter technique). */
#include <stdint.h>

typedef struct {
	uint64_t mallocs;       /* malloc, calloc, realloc, posix_memalign, aligned_alloc */
	uint64_t retains;       /* swift_retain, swift_retain_n */
	uint64_t releases;      /* swift_release, swift_release_n */
	uint64_t accesses;      /* swift_beginAccess (dynamic exclusivity checks) */
} fabric_runtime_counts;

fabric_runtime_counts fabric_runtime_counts_now(void);
#endif
