// TopicDialog: create or edit a RocketMQ topic. OK stays a no-op with the reason shown until the input is valid
// (TopicSpec::validate, the API's rules), so nothing invalid is ever sent.
#pragma once

#include "AdminTypes.h"

#include <QDialog>

class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace ferry::console {

class TopicDialog : public QDialog {
    Q_OBJECT
public:
    // existing: edit that topic (its name fixed); null: create one.
    explicit TopicDialog(const TopicInfo *existing, QWidget *parent = nullptr);
    TopicSpec spec() const;

    void accept() override;

private:
    QLineEdit *name_;
    QSpinBox *readQueues_, *writeQueues_;
    QComboBox *perm_;
    QLabel *error_;
};

} // namespace ferry::console
