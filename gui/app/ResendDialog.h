// ResendDialog: where a resend of dead letters (or any stored messages) goes: their origin, an exchange of a vhost
// with a routing key, or a RocketMQ topic. OK stays disabled, with the reason shown, while the choice is incomplete
// (ResendDestination::validate).
#pragma once

#include "AdminTypes.h"

#include <QDialog>

class QDialogButtonBox;
class QLabel;
class QLineEdit;
class QRadioButton;

namespace ferry::console {

class ResendDialog : public QDialog {
    Q_OBJECT
public:
    // count: how many messages will be resent (for the title).
    explicit ResendDialog(int count, QWidget *parent = nullptr);
    ResendDestination destination() const;

private:
    void updateState();

    QRadioButton *origin_, *exchange_, *topic_;
    QLineEdit *vhost_, *exchangeName_, *routingKey_, *topicName_;
    QLabel *error_;
    QDialogButtonBox *buttons_;
};

} // namespace ferry::console
