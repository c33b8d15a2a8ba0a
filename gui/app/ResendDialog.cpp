#include "ResendDialog.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

namespace ferry::console {

ResendDialog::ResendDialog(int count, QWidget *parent)
    : QDialog(parent), origin_(new QRadioButton(tr("Their &origin"), this)),
      exchange_(new QRadioButton(tr("An &exchange"), this)), topic_(new QRadioButton(tr("A &topic"), this)),
      vhost_(new QLineEdit(QStringLiteral("/"), this)), exchangeName_(new QLineEdit(this)),
      routingKey_(new QLineEdit(this)), topicName_(new QLineEdit(this)), error_(new QLabel(this)),
      buttons_(new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this))
{
    setObjectName(QStringLiteral("resendDialog"));
    setWindowTitle(tr("Resend %n message(s)", nullptr, count));
    origin_->setObjectName(QStringLiteral("toOrigin"));
    exchange_->setObjectName(QStringLiteral("toExchange"));
    topic_->setObjectName(QStringLiteral("toTopic"));
    vhost_->setObjectName(QStringLiteral("vhost"));
    exchangeName_->setObjectName(QStringLiteral("exchange"));
    exchangeName_->setPlaceholderText(tr("(the default exchange)"));
    routingKey_->setObjectName(QStringLiteral("routingKey"));
    topicName_->setObjectName(QStringLiteral("topic"));
    error_->setObjectName(QStringLiteral("error"));
    error_->setStyleSheet(QStringLiteral("color: #8a1c1c"));
    origin_->setChecked(true);

    auto *exchangeForm = new QFormLayout;
    exchangeForm->addRow(tr("&Vhost"), vhost_);
    exchangeForm->addRow(tr("E&xchange"), exchangeName_);
    exchangeForm->addRow(tr("&Routing key"), routingKey_);
    auto *topicForm = new QFormLayout;
    topicForm->addRow(tr("To&pic"), topicName_);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(new QLabel(tr("Resend copies of the messages to:"), this));
    layout->addWidget(origin_);
    layout->addWidget(exchange_);
    layout->addLayout(exchangeForm);
    layout->addWidget(topic_);
    layout->addLayout(topicForm);
    layout->addWidget(error_);
    layout->addWidget(buttons_);

    for (QRadioButton *r : {origin_, exchange_, topic_})
        connect(r, &QRadioButton::toggled, this, &ResendDialog::updateState);
    for (QLineEdit *e : {vhost_, exchangeName_, routingKey_, topicName_})
        connect(e, &QLineEdit::textChanged, this, &ResendDialog::updateState);
    connect(buttons_, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons_, &QDialogButtonBox::rejected, this, &QDialog::reject);
    updateState();
}

ResendDestination ResendDialog::destination() const
{
    ResendDestination d;
    d.kind = exchange_->isChecked() ? ResendDestination::Kind::Exchange
             : topic_->isChecked()  ? ResendDestination::Kind::Topic
                                    : ResendDestination::Kind::Origin;
    d.vhost = vhost_->text().trimmed();
    d.exchange = exchangeName_->text().trimmed();
    d.routingKey = routingKey_->text();
    d.topic = topicName_->text().trimmed();
    return d;
}

void ResendDialog::updateState()
{
    for (QLineEdit *e : {vhost_, exchangeName_, routingKey_})
        e->setEnabled(exchange_->isChecked());
    topicName_->setEnabled(topic_->isChecked());
    const QString why = destination().validate();
    error_->setText(why);
    buttons_->button(QDialogButtonBox::Ok)->setEnabled(why.isEmpty());
}

} // namespace ferry::console
