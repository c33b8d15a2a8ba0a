// ResourceDialogs: create an AMQP exchange, a queue or a binding. Like TopicDialog, OK stays a no-op with the reason
// shown until the input is valid (ExchangeSpec, QueueSpec and BindingSpec::validate, the API's rules), so nothing
// invalid is ever sent. The dialogs only collect input; the caller sends spec() through AdminClient after exec().
// Every input has an objectName (the dialog's own: exchangeDialog, queueDialog, bindingDialog) for tests.
#pragma once

#include "AdminTypes.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;

namespace ferry::console {

// Inputs: vhost, name, type (direct, fanout, topic, headers), durable, autoDelete; error, buttons.
class ExchangeDialog : public QDialog {
    Q_OBJECT
public:
    explicit ExchangeDialog(const QString &vhost, QWidget *parent = nullptr);
    ExchangeSpec spec() const;

    void accept() override;

private:
    QLineEdit *vhost_, *name_;
    QComboBox *type_;
    QCheckBox *durable_, *autoDelete_;
    QLabel *error_;
};

// Inputs: vhost, name, durable; error, buttons.
class QueueDialog : public QDialog {
    Q_OBJECT
public:
    explicit QueueDialog(const QString &vhost, QWidget *parent = nullptr);
    QueueSpec spec() const;

    void accept() override;

private:
    QLineEdit *vhost_, *name_;
    QCheckBox *durable_;
    QLabel *error_;
};

// Inputs: vhost, source (exchange), destinationType (queue, exchange), destination, routingKey, arguments
// (key=value lines, enabled when the source is a headers exchange it knows); error, buttons. The source and
// destination are editable combo boxes offering the names of `exchanges` and `queues` in the vhost typed.
class BindingDialog : public QDialog {
    Q_OBJECT
public:
    BindingDialog(const QList<ExchangeInfo> &exchanges, const QList<QueueInfo> &queues, const QString &vhost,
                  const QString &source, QWidget *parent = nullptr);
    // The arguments are empty unless the source is a headers exchange (and while their lines do not parse).
    BindingSpec spec() const;

    void accept() override;

private:
    // Offers the names of the vhost typed, keeping what is typed in source and destination.
    void offerNames();
    // Enables the arguments for a headers source.
    void followSource();
    bool sourceIsHeaders() const;

    QList<ExchangeInfo> exchanges_;
    QList<QueueInfo> queues_;
    QLineEdit *vhost_;
    QComboBox *source_, *destinationType_, *destination_;
    QLineEdit *routingKey_;
    QPlainTextEdit *arguments_;
    QLabel *error_;
};

} // namespace ferry::console
