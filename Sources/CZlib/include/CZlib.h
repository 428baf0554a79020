#ifndef PERIMETER_CZLIB_H
#define PERIMETER_CZLIB_H

#include <stddef.h>
#include <stdint.h>

/// Inflates raw deflate data (a zip entry's, method 8) into `out`, at most `capacity` bytes.
/// Returns the number of bytes written; -1 when the data is not valid deflate; -2 when the output
/// would exceed `capacity` (the caller's size limit: a zip bomb stops here).
long perimeter_inflate_raw(const uint8_t *input, size_t input_length, uint8_t *out, size_t capacity);

#endif
