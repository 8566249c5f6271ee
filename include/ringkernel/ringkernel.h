/* ringkernel.h - the whole public API of RingKernel in one include. */
#ifndef RINGKERNEL_H
#define RINGKERNEL_H

#include "ringkernel/abi.h"
#include "ringkernel/actor.h"
#include "ringkernel/error.h"
#include "ringkernel/hlc.h"
#include "ringkernel/k2k.h"
#include "ringkernel/message.h"
#include "ringkernel/queue.h"
#include "ringkernel/runtime.h"
#include "ringkernel/topic.h"
#include "ringkernel/version.h"

#endif /* RINGKERNEL_H */
