#include "OverviewPage.h"

#include <QChart>
#include <QChartView>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QGridLayout>
#include <QGroupBox>
#include <QLabel>
#include <QLineSeries>
#include <QLocale>
#include <QValueAxis>
#include <QVBoxLayout>

namespace ferry::console {

namespace {

QString duration(qint64 ms)
{
    const qint64 s = ms / 1000;
    return QStringLiteral("%1d %2h %3m %4s").arg(s / 86400).arg(s / 3600 % 24).arg(s / 60 % 60).arg(s % 60);
}

void trim(QLineSeries *series, qint64 oldestMs)
{
    while (series->count() > 0 && series->at(0).x() < static_cast<double>(oldestMs))
        series->remove(0);
}

} // namespace

OverviewPage::OverviewPage(QWidget *parent)
    : QWidget(parent), summary_(new QLabel(this)), plugins_(new QLabel(this)), listeners_(new QLabel(this)),
      publish_(new QLineSeries(this)), deliver_(new QLineSeries(this)), timeAxis_(new QDateTimeAxis(this)),
      rateAxis_(new QValueAxis(this))
{
    setObjectName(QStringLiteral("overviewPage"));
    summary_->setObjectName(QStringLiteral("summary"));
    plugins_->setObjectName(QStringLiteral("plugins"));
    listeners_->setObjectName(QStringLiteral("listeners"));
    for (QLabel *label : {summary_, plugins_, listeners_}) {
        label->setTextInteractionFlags(Qt::TextSelectableByMouse);
        label->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    }
    publish_->setName(tr("published/s"));
    deliver_->setName(tr("delivered/s"));
    auto *chart = new QChart;
    chart->setTitle(tr("Message rates"));
    chart->addSeries(publish_);
    chart->addSeries(deliver_);
    timeAxis_->setFormat(QStringLiteral("HH:mm:ss"));
    rateAxis_->setLabelFormat(QStringLiteral("%.1f"));
    rateAxis_->setMin(0);
    chart->addAxis(timeAxis_, Qt::AlignBottom);
    chart->addAxis(rateAxis_, Qt::AlignLeft);
    for (QLineSeries *s : {publish_, deliver_}) {
        s->attachAxis(timeAxis_);
        s->attachAxis(rateAxis_);
    }
    auto *chartView = new QChartView(chart, this);
    chartView->setObjectName(QStringLiteral("rates"));
    chartView->setRenderHint(QPainter::Antialiasing);
    chartView->setMinimumHeight(220);

    auto *grid = new QGridLayout;
    const auto box = [this](const QString &title, QLabel *content) {
        auto *group = new QGroupBox(title, this);
        auto *l = new QVBoxLayout(group);
        l->addWidget(content);
        return group;
    };
    grid->addWidget(box(tr("Broker"), summary_), 0, 0);
    grid->addWidget(box(tr("Plugins"), plugins_), 0, 1);
    grid->addWidget(box(tr("Listeners"), listeners_), 0, 2);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(grid);
    layout->addWidget(chartView, 1);
}

void OverviewPage::setOverview(const OverviewInfo &o)
{
    const QLocale locale;
    summary_->setText(tr("Ferry %1 (plugin ABI %2)\nbroker %3, %4\nup %5\n%6 queues, %7 exchanges, %8 topics\n"
                         "%9 connections, %10 consumers\n%11 messages (%12 ready, %13 unacked)\nstorage %14: %15")
                          .arg(o.productVersion, o.abi, o.brokerName, o.role, duration(o.uptimeMs))
                          .arg(o.queues)
                          .arg(o.exchanges)
                          .arg(o.topics)
                          .arg(o.connections)
                          .arg(o.consumers)
                          .arg(o.messages)
                          .arg(o.messagesReady)
                          .arg(o.messagesUnacked)
                          .arg(o.storagePlugin, locale.formattedDataSize(o.storageBytes)));
    QStringList plugins;
    for (const PluginInfo &p : o.plugins)
        plugins << QStringLiteral("%1 %2 (%3, ABI %4)").arg(p.name, p.version, p.kind, p.abi);
    plugins_->setText(plugins.join(QLatin1Char('\n')));
    QStringList listeners;
    for (const auto &[key, address] : o.listeners)
        listeners << QStringLiteral("%1  %2").arg(key, address);
    listeners_->setText(listeners.join(QLatin1Char('\n')));

    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    publish_->append(static_cast<double>(now), o.publishRate);
    deliver_->append(static_cast<double>(now), o.deliverRate);
    trim(publish_, now - kHistoryMs);
    trim(deliver_, now - kHistoryMs);
    double top = 1;
    for (QLineSeries *s : {publish_, deliver_})
        for (const QPointF &p : s->points())
            top = std::max(top, p.y());
    rateAxis_->setMax(top * 1.1);
    timeAxis_->setRange(QDateTime::fromMSecsSinceEpoch(std::max(now - kHistoryMs, static_cast<qint64>(publish_->at(0).x()))),
                        QDateTime::fromMSecsSinceEpoch(now));
}

} // namespace ferry::console
