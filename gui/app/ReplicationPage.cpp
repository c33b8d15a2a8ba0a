#include "ReplicationPage.h"

#include "AdminClient.h"
#include "AdminTableModels.h"
#include "ListPage.h"

#include <QChart>
#include <QChartView>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QMessageBox>
#include <QPushButton>
#include <QTableView>
#include <QValueAxis>
#include <QVBoxLayout>

namespace ferry::console {

ReplicationPage::ReplicationPage(AdminClient *client, QWidget *parent)
    : QWidget(parent), client_(client), members_(new ReplicationMemberModel(this)), summary_(new QLabel(this)),
      promote_(new QPushButton(tr("&Promote to master..."), this)), chart_(new QChart),
      timeAxis_(new QDateTimeAxis(this)), lagAxis_(new QValueAxis(this))
{
    setObjectName(QStringLiteral("replicationPage"));
    summary_->setObjectName(QStringLiteral("replicationSummary"));
    promote_->setObjectName(QStringLiteral("promote"));
    promote_->setEnabled(false);
    auto *table = new ListPage(members_, QStringLiteral("members"), this);
    chart_->setTitle(tr("Slave lag (messages)"));
    timeAxis_->setFormat(QStringLiteral("HH:mm:ss"));
    lagAxis_->setLabelFormat(QStringLiteral("%.0f"));
    lagAxis_->setRange(0, 1);
    chart_->addAxis(timeAxis_, Qt::AlignBottom);
    chart_->addAxis(lagAxis_, Qt::AlignLeft);
    auto *chartView = new QChartView(chart_, this);
    chartView->setObjectName(QStringLiteral("lagChart"));
    chartView->setMinimumHeight(200);
    connect(promote_, &QPushButton::clicked, this, [this] {
        if (QMessageBox::question(this, tr("Promote"),
                                  tr("Promote this slave to ASYNC_MASTER? It restarts as the master of its group.")) ==
            QMessageBox::Yes)
            client_->promote(QStringLiteral("ASYNC_MASTER"), false);
    });
    connect(client_, &AdminClient::replicationReceived, this, &ReplicationPage::setReplication);
    auto *top = new QHBoxLayout;
    top->addWidget(summary_, 1);
    top->addWidget(promote_);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(table, 1);
    layout->addWidget(chartView, 1);
}

void ReplicationPage::setReplication(const ReplicationInfo &info)
{
    summary_->setText(info.isSlave() ? tr("Group %1: this broker (id %2) is a SLAVE").arg(info.brokerName).arg(info.brokerId)
                                     : tr("Group %1: this broker (id %2) is the %3, %4 slave(s) in sync")
                                           .arg(info.brokerName)
                                           .arg(info.brokerId)
                                           .arg(info.role)
                                           .arg(info.inSyncSlaves));
    promote_->setEnabled(info.isSlave());
    members_->setRecords(info.members);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    double top = 1;
    for (const ReplicationMember &m : info.members) {
        if (m.role != QLatin1String("SLAVE") || m.state == QLatin1String("this broker"))
            continue;
        QLineSeries *&series = lag_[m.brokerId];
        if (!series) {
            series = new QLineSeries(this);
            series->setName(tr("broker %1").arg(m.brokerId));
            chart_->addSeries(series);
            series->attachAxis(timeAxis_);
            series->attachAxis(lagAxis_);
        }
        series->append(static_cast<double>(now), static_cast<double>(m.lagMessages));
        while (series->count() > 0 && series->at(0).x() < static_cast<double>(now - kHistoryMs))
            series->remove(0);
        for (const QPointF &p : series->points())
            top = std::max(top, p.y());
    }
    lagAxis_->setMax(top * 1.1);
    timeAxis_->setRange(QDateTime::fromMSecsSinceEpoch(now - 60000), QDateTime::fromMSecsSinceEpoch(now));
}

} // namespace ferry::console
