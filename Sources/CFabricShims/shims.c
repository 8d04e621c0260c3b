/* CFabricShims is header-only (static inline); SwiftPM needs one C source per C target. */
#include "CFabricShims.h"
