// DeadLettersPage: every dead-letter queue of both protocols with its count; the dead letters of the one selected
// (MessageView for the current one); resend the selected ones, or all, to their origin or to another exchange or
// topic, in batches with a progress bar and a result per message; export them as CSV.
#pragma once

#include "AdminTypes.h"

#include <QWidget>

#include <optional>

class QProgressBar;
class QTableView;

namespace ferry::console {

class AdminClient;
class DeadLetterTableModel;
class ListPage;
class MessageTableModel;
class MessageView;
class ResendResultModel;

class DeadLettersPage : public QWidget {
    Q_OBJECT
public:
    DeadLettersPage(AdminClient *client, QWidget *parent = nullptr);

    // Shows the dead letters of the DLQ in row `row` of the DLQ list.
    void open(int row);
    // Resends the selected dead letters (every one the filter shows when none is selected) to `to` (their origin by
    // default).
    void resendSelected(const ResendDestination &to = {});
    // Asks where to (ResendDialog), then resends the selected ones there.
    void resendSelectedElsewhere();
    // Asks for the CSV and writes it to path once it arrives (the Export button asks for the path first).
    void exportCsvTo(const QString &path);

    DeadLetterTableModel *queues() const { return queues_; }
    MessageTableModel *messages() const { return messages_; }
    ResendResultModel *results() const { return results_; }
    QProgressBar *progress() const { return progress_; }
    QTableView *messageTable() const;

signals:
    void exported(const QString &path, bool ok);

private:
    // The offsets of the selected dead letters, of every one the filter shows when none is selected; ascending.
    QList<qint64> selectedOffsets() const;

    AdminClient *client_;
    DeadLetterTableModel *queues_;
    MessageTableModel *messages_;
    ResendResultModel *results_;
    ListPage *queueList_, *messageList_, *resultList_;
    MessageView *view_;
    QProgressBar *progress_;
    std::optional<MessageSource> current_;
    QString exportPath_;
};

} // namespace ferry::console
