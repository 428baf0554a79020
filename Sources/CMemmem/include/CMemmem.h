#ifndef PERIMETER_CMEMMEM_H
#define PERIMETER_CMEMMEM_H

#include <stddef.h>

/// The C library's memmem, which glibc declares only under _GNU_SOURCE, so Swift cannot see it.
void *perimeter_memmem(const void *haystack, size_t haystack_length, const void *needle, size_t needle_length);

#endif
