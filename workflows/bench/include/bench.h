/* The benchmark package exports only the two ABI entry points declared in cloacina.h. */
#include "cloacina.h"
