#ifndef POSTWIRE_CHIREDIS_SHIM_H
#define POSTWIRE_CHIREDIS_SHIM_H
// Only the reader (RESP parser) and the command formatter are used: the transport is SwiftNIO.
// Both exist with the same signatures in hiredis 0.14 and 1.x.
#include <hiredis/hiredis.h>
#endif
