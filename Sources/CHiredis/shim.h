#ifndef POSTWIRE_CHIREDIS_SHIM_H
#define POSTWIRE_CHIREDIS_SHIM_H
// Only the reader (RESP parser) is used: SwiftNIO is the transport and RedisCommand writes the
// commands. The reader has the same signatures in hiredis 0.14 and 1.x.
#include <hiredis/hiredis.h>
#endif
