#include "DeadLettersPage.h"

#include "AdminClient.h"
#include "AdminTableModels.h"
#include "ListPage.h"
#include "MessageView.h"
#include "ResendDialog.h"

#include <QFile>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace ferry::console {


DeadLettersPage::DeadLettersPage(AdminClient *client, QWidget *parent)
    : QWidget(parent), client_(client), queues_(new DeadLetterTableModel(this)), messages_(new MessageTableModel(this)),
      results_(new ResendResultModel(this)), view_(new MessageView(this)), progress_(new QProgressBar(this))
{
    setObjectName(QStringLiteral("deadLettersPage"));
    queueList_ = new ListPage(queues_, QStringLiteral("deadLetterQueues"), this);
    messageList_ = new ListPage(messages_, QStringLiteral("deadLetters"), this);
    messageList_->view()->setSelectionMode(QAbstractItemView::ExtendedSelection);
    resultList_ = new ListPage(results_, QStringLiteral("resendResults"), this);
    progress_->setObjectName(QStringLiteral("resendProgress"));
    progress_->setRange(0, 1);
    progress_->setValue(0);
    progress_->setFormat(tr("%v of %m resent"));

    auto *resend = new QPushButton(tr("&Resend to origin"), this);
    resend->setObjectName(QStringLiteral("resend"));
    auto *resendTo = new QPushButton(tr("Resend &to..."), this);
    resendTo->setObjectName(QStringLiteral("resendTo"));
    connect(resendTo, &QPushButton::clicked, this, &DeadLettersPage::resendSelectedElsewhere);
    auto *exportButton = new QPushButton(tr("E&xport CSV..."), this);
    exportButton->setObjectName(QStringLiteral("exportCsv"));
    connect(resend, &QPushButton::clicked, this, [this] { resendSelected(); });
    connect(exportButton, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export dead letters"), QStringLiteral("dead-letters.csv"),
                                                          tr("CSV files (*.csv)"));
        if (!path.isEmpty())
            exportCsvTo(path);
    });
    connect(queueList_, &ListPage::currentSourceRowChanged, this, [this](int row) {
        if (row >= 0)
            open(row);
    });
    connect(messageList_, &ListPage::currentSourceRowChanged, this, [this](int row) {
        if (row >= 0)
            view_->setMessage(messages_->record(row));
    });

    connect(client_, &AdminClient::deadLettersReceived, queues_,
            [this](const QList<DeadLetterQueueInfo> &q) { queues_->setRecords(q); });
    connect(client_, &AdminClient::pageReceived, this, [this](const MessagePage &page) {
        if (current_ && page.source.kind == current_->kind && page.source.name == current_->name &&
            page.source.vhost == current_->vhost)
            messages_->setRecords(page.messages);
    });
    connect(client_, &AdminClient::resendProgress, this, [this](int done, int total) {
        progress_->setRange(0, std::max(1, total));
        progress_->setValue(done);
    });
    connect(client_, &AdminClient::resendFinished, this, [this](const QList<ResendResult> &results) {
        results_->setRecords(results);
        client_->fetchDeadLetters();
    });
    connect(client_, &AdminClient::exportReady, this, [this](const QByteArray &csv) {
        if (exportPath_.isEmpty())
            return;
        QFile file(exportPath_);
        const bool ok = file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(csv) == csv.size();
        emit exported(exportPath_, ok);
        exportPath_.clear();
    });

    auto *actions = new QHBoxLayout;
    actions->addWidget(resend);
    actions->addWidget(resendTo);
    actions->addWidget(exportButton);
    actions->addWidget(progress_, 1);
    auto *right = new QSplitter(Qt::Vertical, this);
    right->addWidget(messageList_);
    right->addWidget(view_);
    right->addWidget(resultList_);
    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(queueList_);
    splitter->addWidget(right);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(splitter, 1);
    layout->addLayout(actions);
}

QTableView *DeadLettersPage::messageTable() const { return messageList_->view(); }

void DeadLettersPage::open(int row)
{
    if (row < 0 || row >= queues_->rowCount())
        return;
    current_ = queues_->record(row).source();
    messages_->setRecords({});
    client_->browse(*current_, -1, 1000);
}

QList<qint64> DeadLettersPage::selectedOffsets() const
{
    QList<int> rows = messageList_->selectedSourceRows();
    if (rows.isEmpty())
        rows = messageList_->visibleSourceRows();
    QList<qint64> offsets;
    for (int row : rows)
        offsets << messages_->record(row).offset;
    std::sort(offsets.begin(), offsets.end());
    return offsets;
}

void DeadLettersPage::resendSelected(const ResendDestination &to)
{
    const QList<qint64> offsets = selectedOffsets();
    if (current_ && !offsets.isEmpty())
        client_->resend(*current_, offsets, to);
}

void DeadLettersPage::resendSelectedElsewhere()
{
    const QList<qint64> offsets = selectedOffsets();
    if (!current_ || offsets.isEmpty())
        return;
    ResendDialog dialog(int(offsets.size()), this);
    if (dialog.exec() == QDialog::Accepted)
        client_->resend(*current_, offsets, dialog.destination());
}

void DeadLettersPage::exportCsvTo(const QString &path)
{
    if (!current_)
        return;
    exportPath_ = path;
    client_->exportDeadLettersCsv(*current_);
}

} // namespace ferry::console
