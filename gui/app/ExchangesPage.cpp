#include "ExchangesPage.h"

#include "AdminClient.h"
#include "AdminTableModels.h"
#include "ListPage.h"
#include "ResourceDialogs.h"

#include <QItemSelectionModel>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace ferry::console {

ExchangesPage::ExchangesPage(AdminClient *client, QWidget *parent)
    : QWidget(parent), client_(client), exchanges_(new ExchangeTableModel(this)), bindings_(new BindingTableModel(this))
{
    setObjectName(QStringLiteral("exchangesPage"));
    exchangeList_ = new ListPage(exchanges_, QStringLiteral("exchangeList"), this);
    connect(exchangeList_->addAction(tr("&New exchange..."), QStringLiteral("newExchange")), &QPushButton::clicked,
            this, &ExchangesPage::newExchange);
    deleteExchange_ = exchangeList_->addAction(tr("De&lete exchange"), QStringLiteral("deleteExchange"));
    connect(deleteExchange_, &QPushButton::clicked, this, &ExchangesPage::deleteExchange);
    bindingList_ = new ListPage(bindings_, QStringLiteral("bindingList"), this);
    connect(bindingList_->addAction(tr("New b&inding..."), QStringLiteral("newBinding")), &QPushButton::clicked, this,
            &ExchangesPage::newBinding);
    deleteBinding_ = bindingList_->addAction(tr("D&elete binding"), QStringLiteral("deleteBinding"));
    connect(deleteBinding_, &QPushButton::clicked, this, &ExchangesPage::deleteBinding);

    auto *splitter = new QSplitter(Qt::Vertical, this);
    splitter->setObjectName(QStringLiteral("exchangesSplitter"));
    splitter->addWidget(exchangeList_);
    splitter->addWidget(bindingList_);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(splitter);

    for (ListPage *list : {exchangeList_, bindingList_}) {
        connect(list->view()->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
                &ExchangesPage::updateActions);
        connect(list->view()->model(), &QAbstractItemModel::rowsRemoved, this, &ExchangesPage::updateActions);
    }
    connect(client_, &AdminClient::exchangesReceived, this, &ExchangesPage::setExchanges);
    connect(client_, &AdminClient::bindingsReceived, this, &ExchangesPage::setBindings);
    connect(client_, &AdminClient::queuesReceived, this, &ExchangesPage::setQueues);
    updateActions();
}

void ExchangesPage::refresh()
{
    client_->fetchExchanges();
    client_->fetchBindings();
}

void ExchangesPage::setExchanges(const QList<ExchangeInfo> &exchanges)
{
    exchanges_->setRecords(exchanges);
    updateActions();
}

void ExchangesPage::setBindings(const QList<BindingInfo> &bindings)
{
    bindings_->setRecords(bindings);
    updateActions();
}

void ExchangesPage::setQueues(const QList<QueueInfo> &queues) { queues_ = queues; }

void ExchangesPage::updateActions()
{
    const int exchange = exchangeList_->currentSourceRow();
    deleteExchange_->setEnabled(exchange >= 0 && !exchanges_->record(exchange).predeclared());
    deleteBinding_->setEnabled(bindingList_->currentSourceRow() >= 0);
}

QString ExchangesPage::currentVhost() const
{
    const int row = exchangeList_->currentSourceRow();
    return row >= 0 ? exchanges_->record(row).vhost : QStringLiteral("/");
}

void ExchangesPage::newExchange()
{
    ExchangeDialog dialog(currentVhost(), this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const ExchangeSpec spec = dialog.spec();
    client_->declareExchange(spec.vhost, spec.name, spec.type, spec.durable, spec.autoDelete);
}

void ExchangesPage::deleteExchange()
{
    const int row = exchangeList_->currentSourceRow();
    if (row < 0 || exchanges_->record(row).predeclared())
        return;
    const ExchangeInfo exchange = exchanges_->record(row);
    if (QMessageBox::question(this, tr("Delete exchange"),
                              tr("Delete exchange %1 (vhost %2) and its bindings?").arg(exchange.name, exchange.vhost)) ==
        QMessageBox::Yes)
        client_->deleteExchange(exchange.vhost, exchange.name);
}

void ExchangesPage::newBinding()
{
    QList<ExchangeInfo> exchanges;
    for (int row = 0; row < exchanges_->rowCount(); ++row)
        exchanges.append(exchanges_->record(row));
    const int row = exchangeList_->currentSourceRow();
    const ExchangeInfo *selected = row >= 0 ? &exchanges_->record(row) : nullptr;
    BindingDialog dialog(exchanges, queues_, currentVhost(),
                         selected && !selected->name.isEmpty() ? selected->name : QString(), this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const BindingSpec spec = dialog.spec();
    client_->bind(spec.vhost, spec.source, spec.destination, spec.destinationType, spec.routingKey, spec.arguments);
}

void ExchangesPage::deleteBinding()
{
    const int row = bindingList_->currentSourceRow();
    if (row < 0)
        return;
    const BindingInfo binding = bindings_->record(row);
    const QString key = binding.routingKey.isEmpty() ? tr("no routing key") : tr("routing key %1").arg(binding.routingKey);
    if (QMessageBox::question(this, tr("Delete binding"),
                              tr("Delete the binding from %1 to %2 %3 (%4)?")
                                  .arg(binding.source, binding.destinationType, binding.destination, key)) ==
        QMessageBox::Yes)
        client_->unbind(binding);
}

} // namespace ferry::console
