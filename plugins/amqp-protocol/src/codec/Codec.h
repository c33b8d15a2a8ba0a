// The whole AMQP 0-9-1 codec (see README.md beside this file): constants and errors, the protocol header and frames,
// every method, content headers and bodies, field tables.
#pragma once

#include "codec/Constants.h"
#include "codec/Content.h"
#include "codec/FieldTable.h"
#include "codec/Frame.h"
#include "codec/Methods.h"
