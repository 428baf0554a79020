#include "CZlib.h"
#include <string.h>
#include <zlib.h>

long perimeter_inflate_raw(const uint8_t *input, size_t input_length, uint8_t *out, size_t capacity) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return -1;
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)(input_length > 0xFFFFFFFFu ? 0xFFFFFFFFu : input_length);
    stream.next_out = out;
    stream.avail_out = (uInt)(capacity > 0xFFFFFFFFu ? 0xFFFFFFFFu : capacity);
    int status = inflate(&stream, Z_FINISH);
    long written = (long)stream.total_out;
    inflateEnd(&stream);
    if (status == Z_STREAM_END) return written;
    if (status == Z_BUF_ERROR && stream.avail_out == 0) return -2;
    return -1;
}
