#define _GNU_SOURCE
#include "CRuntimeCounters.h"
#include <dlfcn.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static uint64_t n_malloc, n_retain, n_release, n_access;

fabric_runtime_counts fabric_runtime_counts_now(void)
{
	fabric_runtime_counts c = {n_malloc, n_retain, n_release, n_access};
	return c;
}

void *malloc(size_t n) { __atomic_add_fetch(&n_malloc, 1, __ATOMIC_RELAXED); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { __atomic_add_fetch(&n_malloc, 1, __ATOMIC_RELAXED); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { __atomic_add_fetch(&n_malloc, 1, __ATOMIC_RELAXED); return __libc_realloc(p, n); }
void *aligned_alloc(size_t al, size_t n) { __atomic_add_fetch(&n_malloc, 1, __ATOMIC_RELAXED); return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n)
{
	__atomic_add_fetch(&n_malloc, 1, __ATOMIC_RELAXED);
	void *p = __libc_memalign(al, n);
	if (!p)
		return 12; /* ENOMEM */
	*out = p;
	return 0;
}

#define FORWARD(ret, name, params, args, counter)                                   \
	ret name params                                                             \
	{                                                                           \
		static ret(*real) params;                                           \
		if (!real)                                                          \
			real = (ret(*) params)dlsym(RTLD_NEXT, #name);              \
		__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);                  \
		return real args;                                                   \
	}

FORWARD(void *, swift_retain, (void *o), (o), n_retain)
FORWARD(void *, swift_retain_n, (void *o, uint32_t n), (o, n), n_retain)
FORWARD(void, swift_release, (void *o), (o), n_release)
FORWARD(void, swift_release_n, (void *o, uint32_t n), (o, n), n_release)
FORWARD(void, swift_beginAccess, (void *p, void *b, uintptr_t f, void *pc), (p, b, f, pc), n_access)
