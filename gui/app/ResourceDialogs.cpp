#include "ResourceDialogs.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QVBoxLayout>

namespace ferry::console {

namespace {

QLabel *makeErrorLabel(QWidget *parent)
{
    auto *error = new QLabel(parent);
    error->setObjectName(QStringLiteral("error"));
    error->setWordWrap(true);
    error->setStyleSheet(QStringLiteral("color: #b00020"));
    error->hide();
    return error;
}

QLineEdit *makeVhostEdit(const QString &vhost, QWidget *parent)
{
    auto *edit = new QLineEdit(vhost.isEmpty() ? QStringLiteral("/") : vhost, parent);
    edit->setObjectName(QStringLiteral("vhost"));
    return edit;
}

QCheckBox *makeCheckBox(const QString &text, const QString &objectName, bool checked, QWidget *parent)
{
    auto *box = new QCheckBox(text, parent);
    box->setObjectName(objectName);
    box->setChecked(checked);
    return box;
}

// The form, the error label under it, OK and Cancel wired to the dialog's accept() and reject().
void layOut(QDialog *dialog, QFormLayout *form, QLabel *error)
{
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, dialog);
    buttons->setObjectName(QStringLiteral("buttons"));
    QObject::connect(buttons, &QDialogButtonBox::accepted, dialog, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    auto *layout = new QVBoxLayout(dialog);
    layout->addLayout(form);
    layout->addWidget(error);
    layout->addWidget(buttons);
}

// Shows why the input is refused; true when there is nothing to refuse.
bool acceptable(QLabel *error, const QString &invalid)
{
    error->setText(invalid);
    error->setVisible(!invalid.isEmpty());
    return invalid.isEmpty();
}

// Replaces a combo box's offers by `names`, keeping the text typed in it.
void offer(QComboBox *combo, const QStringList &names)
{
    const QString typed = combo->currentText();
    combo->clear();
    combo->addItems(names);
    combo->setEditText(typed);
}

QComboBox *makeNameCombo(const QString &objectName, QWidget *parent)
{
    auto *combo = new QComboBox(parent);
    combo->setObjectName(objectName);
    combo->setEditable(true);
    combo->setInsertPolicy(QComboBox::NoInsert);
    return combo;
}

} // namespace

ExchangeDialog::ExchangeDialog(const QString &vhost, QWidget *parent)
    : QDialog(parent), vhost_(makeVhostEdit(vhost, this)), name_(new QLineEdit(this)), type_(new QComboBox(this)),
      durable_(makeCheckBox(tr("&Durable (survives a restart)"), QStringLiteral("durable"), true, this)),
      autoDelete_(makeCheckBox(tr("&Auto-delete (when its last binding goes)"), QStringLiteral("autoDelete"), false, this)),
      error_(makeErrorLabel(this))
{
    setObjectName(QStringLiteral("exchangeDialog"));
    setWindowTitle(tr("New exchange"));
    name_->setObjectName(QStringLiteral("name"));
    type_->setObjectName(QStringLiteral("type"));
    type_->addItems(ExchangeSpec::types());
    auto *form = new QFormLayout;
    form->addRow(tr("&Vhost"), vhost_);
    form->addRow(tr("&Name"), name_);
    form->addRow(tr("&Type"), type_);
    form->addRow(QString(), durable_);
    form->addRow(QString(), autoDelete_);
    layOut(this, form, error_);
}

ExchangeSpec ExchangeDialog::spec() const
{
    return ExchangeSpec{vhost_->text().trimmed(), name_->text().trimmed(), type_->currentText(), durable_->isChecked(),
                        autoDelete_->isChecked()};
}

void ExchangeDialog::accept()
{
    if (acceptable(error_, spec().validate()))
        QDialog::accept();
}

QueueDialog::QueueDialog(const QString &vhost, QWidget *parent)
    : QDialog(parent), vhost_(makeVhostEdit(vhost, this)), name_(new QLineEdit(this)),
      durable_(makeCheckBox(tr("&Durable (survives a restart)"), QStringLiteral("durable"), true, this)),
      error_(makeErrorLabel(this))
{
    setObjectName(QStringLiteral("queueDialog"));
    setWindowTitle(tr("New queue"));
    name_->setObjectName(QStringLiteral("name"));
    auto *form = new QFormLayout;
    form->addRow(tr("&Vhost"), vhost_);
    form->addRow(tr("&Name"), name_);
    form->addRow(QString(), durable_);
    layOut(this, form, error_);
}

QueueSpec QueueDialog::spec() const
{
    return QueueSpec{vhost_->text().trimmed(), name_->text().trimmed(), durable_->isChecked()};
}

void QueueDialog::accept()
{
    if (acceptable(error_, spec().validate()))
        QDialog::accept();
}

BindingDialog::BindingDialog(const QList<ExchangeInfo> &exchanges, const QList<QueueInfo> &queues,
                             const QString &vhost, const QString &source, QWidget *parent)
    : QDialog(parent), exchanges_(exchanges), queues_(queues), vhost_(makeVhostEdit(vhost, this)),
      source_(makeNameCombo(QStringLiteral("source"), this)), destinationType_(new QComboBox(this)),
      destination_(makeNameCombo(QStringLiteral("destination"), this)), routingKey_(new QLineEdit(this)),
      arguments_(new QPlainTextEdit(this)), error_(makeErrorLabel(this))
{
    setObjectName(QStringLiteral("bindingDialog"));
    setWindowTitle(tr("New binding"));
    destinationType_->setObjectName(QStringLiteral("destinationType"));
    destinationType_->addItem(tr("queue"), QStringLiteral("queue"));
    destinationType_->addItem(tr("exchange"), QStringLiteral("exchange"));
    routingKey_->setObjectName(QStringLiteral("routingKey"));
    arguments_->setObjectName(QStringLiteral("arguments"));
    arguments_->setPlaceholderText(tr("x-match=all\nregion=eu"));
    arguments_->setToolTip(tr("What a headers exchange matches: one key=value a line; x-match all (default) or any"));
    offerNames();
    source_->setEditText(source);
    followSource();
    connect(vhost_, &QLineEdit::textChanged, this, &BindingDialog::offerNames);
    connect(destinationType_, &QComboBox::currentIndexChanged, this, &BindingDialog::offerNames);
    connect(source_, &QComboBox::editTextChanged, this, &BindingDialog::followSource);
    auto *form = new QFormLayout;
    form->addRow(tr("&Vhost"), vhost_);
    form->addRow(tr("&Source exchange"), source_);
    form->addRow(tr("Destination &type"), destinationType_);
    form->addRow(tr("&Destination"), destination_);
    form->addRow(tr("&Routing key"), routingKey_);
    form->addRow(tr("Header &arguments"), arguments_);
    layOut(this, form, error_);
}

void BindingDialog::offerNames()
{
    const QString vhost = vhost_->text().trimmed();
    QStringList exchangeNames, queueNames;
    for (const ExchangeInfo &e : exchanges_)
        if (e.vhost == vhost && !e.name.isEmpty()) // the default exchange is no binding's source or destination
            exchangeNames << e.name;
    for (const QueueInfo &q : queues_)
        if (q.vhost == vhost)
            queueNames << q.name;
    offer(source_, exchangeNames);
    offer(destination_, destinationType_->currentData().toString() == QLatin1String("exchange") ? exchangeNames
                                                                                                : queueNames);
    followSource();
}

bool BindingDialog::sourceIsHeaders() const
{
    const QString vhost = vhost_->text().trimmed(), source = source_->currentText().trimmed();
    for (const ExchangeInfo &e : exchanges_)
        if (e.vhost == vhost && e.name == source)
            return e.type == QLatin1String("headers");
    return false;
}

void BindingDialog::followSource() { arguments_->setEnabled(sourceIsHeaders()); }

BindingSpec BindingDialog::spec() const
{
    BindingSpec s;
    s.vhost = vhost_->text().trimmed();
    s.source = source_->currentText().trimmed();
    s.destinationType = destinationType_->currentData().toString();
    s.destination = destination_->currentText().trimmed();
    s.routingKey = routingKey_->text();
    if (arguments_->isEnabled())
        BindingSpec::argumentsFromLines(arguments_->toPlainText(), &s.arguments);
    return s;
}

void BindingDialog::accept()
{
    QVariantMap parsed;
    QString invalid = arguments_->isEnabled() ? BindingSpec::argumentsFromLines(arguments_->toPlainText(), &parsed)
                                              : QString();
    if (invalid.isEmpty())
        invalid = spec().validate();
    if (acceptable(error_, invalid))
        QDialog::accept();
}

} // namespace ferry::console
