#pragma once

// QCustomPlot's header uses Qt's keyword macros (signals, foreach), which the project turns off with
// QT_NO_KEYWORDS so that Qt and LibTorch headers can meet. Map them to the Q_ forms for this header only.
#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
