// OverviewPage: the broker at a glance: version and role, uptime, plugins, listeners, storage, object and message
// totals, and the publish / deliver rates of the last minutes as a line chart (Qt Charts). Fed by
// AdminClient::overviewReceived; each overview adds one point per series (kept for kHistoryMs).
#pragma once

#include "AdminTypes.h"

#include <QWidget>

class QLabel;
class QLineSeries;
class QValueAxis;
class QDateTimeAxis;

namespace ferry::console {

class OverviewPage : public QWidget {
    Q_OBJECT
public:
    static constexpr qint64 kHistoryMs = 10 * 60 * 1000;

    explicit OverviewPage(QWidget *parent = nullptr);
    void setOverview(const OverviewInfo &overview);

    // For tests: the rate series (publish, deliver).
    QLineSeries *publishSeries() const { return publish_; }
    QLineSeries *deliverSeries() const { return deliver_; }

private:
    QLabel *summary_, *plugins_, *listeners_;
    QLineSeries *publish_, *deliver_;
    QDateTimeAxis *timeAxis_;
    QValueAxis *rateAxis_;
};

} // namespace ferry::console
