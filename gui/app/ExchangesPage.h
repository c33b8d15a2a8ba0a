// ExchangesPage: the AMQP exchanges (above) and bindings (below, in the splitter "exchangesSplitter") of one broker,
// each a ListPage ("exchangeList", "bindingList") with its actions: New exchange... (ExchangeDialog), Delete exchange,
// New binding... (BindingDialog, offering the exchanges and queues it was last sent), Delete binding. Deleting asks
// first (QMessageBox::question); the default and amq.* exchanges cannot be deleted (their button is disabled).
//
// Fed by the client's exchangesReceived, bindingsReceived and queuesReceived, connected here; changes go through the
// client, which answers changeFinished and refetches. The client is not owned and must outlive the page; the
// models are the page's. The dialogs and questions are modal (exec()). Threading: the GUI thread.
#pragma once

#include "AdminTypes.h"

#include <QWidget>

class QPushButton;

namespace ferry::console {

class AdminClient;
class BindingTableModel;
class ExchangeTableModel;
class ListPage;

class ExchangesPage : public QWidget {
    Q_OBJECT
public:
    explicit ExchangesPage(AdminClient *client, QWidget *parent = nullptr);

    ExchangeTableModel *exchanges() const { return exchanges_; }
    BindingTableModel *bindings() const { return bindings_; }
    ListPage *exchangeList() const { return exchangeList_; }
    ListPage *bindingList() const { return bindingList_; }

public slots:
    // Fetches the exchanges and the bindings (the queues BindingDialog offers come with the window's refresh).
    void refresh();
    void setExchanges(const QList<ferry::console::ExchangeInfo> &exchanges);
    void setBindings(const QList<ferry::console::BindingInfo> &bindings);
    void setQueues(const QList<ferry::console::QueueInfo> &queues);

private:
    void newExchange();
    void deleteExchange();
    void newBinding();
    void deleteBinding();
    // Enables Delete exchange and Delete binding for a selection they may delete.
    void updateActions();
    // The vhost of the selected exchange, else "/": where the dialogs start.
    QString currentVhost() const;

    AdminClient *client_;
    ExchangeTableModel *exchanges_;
    BindingTableModel *bindings_;
    QList<QueueInfo> queues_;
    ListPage *exchangeList_, *bindingList_;
    QPushButton *deleteExchange_, *deleteBinding_;
};

} // namespace ferry::console
