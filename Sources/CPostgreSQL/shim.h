/* The system's libpq (the PostgreSQL client library). */
#ifndef CLOACINA_CPOSTGRESQL_SHIM_H
#define CLOACINA_CPOSTGRESQL_SHIM_H

#include <libpq-fe.h>

#endif /* CLOACINA_CPOSTGRESQL_SHIM_H */
