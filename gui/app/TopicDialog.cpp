#include "TopicDialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QVBoxLayout>

namespace ferry::console {

TopicDialog::TopicDialog(const TopicInfo *existing, QWidget *parent)
    : QDialog(parent), name_(new QLineEdit(this)), readQueues_(new QSpinBox(this)), writeQueues_(new QSpinBox(this)),
      perm_(new QComboBox(this)), error_(new QLabel(this))
{
    setObjectName(QStringLiteral("topicDialog"));
    setWindowTitle(existing ? tr("Edit topic %1").arg(existing->name) : tr("New topic"));
    name_->setObjectName(QStringLiteral("name"));
    readQueues_->setObjectName(QStringLiteral("readQueues"));
    writeQueues_->setObjectName(QStringLiteral("writeQueues"));
    perm_->setObjectName(QStringLiteral("perm"));
    error_->setObjectName(QStringLiteral("error"));
    // The spin boxes allow 0 so that a wrong count is explained, not silently clamped.
    for (QSpinBox *box : {readQueues_, writeQueues_}) {
        box->setRange(0, 4096);
        box->setValue(existing ? 0 : 8);
    }
    perm_->addItem(tr("read and write (6)"), 6);
    perm_->addItem(tr("read only (4)"), 4);
    perm_->addItem(tr("write only (2)"), 2);
    perm_->addItem(tr("none (0)"), 0);
    if (existing) {
        name_->setText(existing->name);
        name_->setReadOnly(true);
        readQueues_->setValue(existing->readQueues);
        writeQueues_->setValue(existing->writeQueues);
        perm_->setCurrentIndex(std::max(0, perm_->findData(existing->perm)));
    }
    error_->setStyleSheet(QStringLiteral("color: #b00020"));
    error_->hide();
    auto *form = new QFormLayout;
    form->addRow(tr("&Name"), name_);
    form->addRow(tr("&Read queues"), readQueues_);
    form->addRow(tr("&Write queues"), writeQueues_);
    form->addRow(tr("&Permissions"), perm_);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->setObjectName(QStringLiteral("buttons"));
    connect(buttons, &QDialogButtonBox::accepted, this, &TopicDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &TopicDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(error_);
    layout->addWidget(buttons);
}

TopicSpec TopicDialog::spec() const
{
    return TopicSpec{name_->text().trimmed(), readQueues_->value(), writeQueues_->value(), perm_->currentData().toInt()};
}

void TopicDialog::accept()
{
    const QString invalid = spec().validate();
    if (!invalid.isEmpty()) {
        error_->setText(invalid);
        error_->show();
        return;
    }
    QDialog::accept();
}

} // namespace ferry::console
