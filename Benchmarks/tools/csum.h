/* SPDX-License-Identifier: MIT */
/* The Internet checksum (RFC 1071) of the C benchmark tools' IPv4 headers. */
#ifndef SF_TOOLS_CSUM_H
#define SF_TOOLS_CSUM_H
#include <stddef.h>
#include <stdint.h>

static inline uint16_t csum(const void *data, size_t len)
{
	const uint16_t *p = data;
	uint32_t sum = 0;
	for (; len > 1; len -= 2)
		sum += *p++;
	if (len)
		sum += *(const uint8_t *)p;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
#endif
