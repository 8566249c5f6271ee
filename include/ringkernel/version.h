/* version.h - library version. */
#ifndef RINGKERNEL_VERSION_H
#define RINGKERNEL_VERSION_H

#define RK_VERSION_MAJOR 0
#define RK_VERSION_MINOR 1
#define RK_VERSION_PATCH 0
#define RK_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version string ("0.1.0"); compare with RK_VERSION_STRING to detect a header mismatch. */
const char *rk_version(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_VERSION_H */
