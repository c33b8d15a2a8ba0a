#include "ProfilesDialog.h"

#include "ProfileStore.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

namespace ferry::console {

ProfilesDialog::ProfilesDialog(ProfileStore *store, QWidget *parent)
    : QDialog(parent), store_(store), list_(new QListWidget(this)), name_(new QLineEdit(this)),
      url_(new QLineEdit(this)), user_(new QLineEdit(this)), password_(new QLineEdit(this)),
      error_(new QLabel(this)), storage_(new QLabel(this))
{
    setObjectName(QStringLiteral("profilesDialog"));
    setWindowTitle(tr("Connection profiles"));
    list_->setObjectName(QStringLiteral("profileList"));
    name_->setObjectName(QStringLiteral("profileName"));
    url_->setObjectName(QStringLiteral("profileUrl"));
    url_->setPlaceholderText(QStringLiteral("http://127.0.0.1:15680"));
    user_->setObjectName(QStringLiteral("profileUser"));
    password_->setObjectName(QStringLiteral("profilePassword"));
    password_->setEchoMode(QLineEdit::Password);
    error_->setObjectName(QStringLiteral("error"));
    error_->setStyleSheet(QStringLiteral("color: #8a1c1c"));
    storage_->setObjectName(QStringLiteral("storage"));
    storage_->setWordWrap(true);

    auto *form = new QFormLayout;
    form->addRow(tr("&Name"), name_);
    form->addRow(tr("&URL"), url_);
    form->addRow(tr("U&ser"), user_);
    form->addRow(tr("&Password"), password_);
    auto *buttons = new QHBoxLayout;
    auto *add = new QPushButton(tr("Ne&w"), this);
    add->setObjectName(QStringLiteral("newProfile"));
    save_ = new QPushButton(tr("Sa&ve"), this);
    save_->setObjectName(QStringLiteral("saveProfile"));
    delete_ = new QPushButton(tr("&Delete"), this);
    delete_->setObjectName(QStringLiteral("deleteProfile"));
    connect_ = new QPushButton(tr("&Connect"), this);
    connect_->setObjectName(QStringLiteral("connectProfile"));
    connect_->setDefault(true);
    buttons->addWidget(add);
    buttons->addWidget(save_);
    buttons->addWidget(delete_);
    buttons->addStretch();
    buttons->addWidget(connect_);
    auto *close = new QDialogButtonBox(QDialogButtonBox::Close, this);

    auto *right = new QVBoxLayout;
    right->addLayout(form);
    right->addWidget(error_);
    right->addWidget(storage_);
    right->addStretch();
    right->addLayout(buttons);
    auto *top = new QHBoxLayout;
    top->addWidget(list_, 1);
    top->addLayout(right, 2);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(close);

    connect(list_, &QListWidget::currentTextChanged, this, &ProfilesDialog::select);
    for (QLineEdit *edit : {name_, url_, user_})
        connect(edit, &QLineEdit::textChanged, this, &ProfilesDialog::updateState);
    connect(add, &QPushButton::clicked, this, [this] {
        list_->clearSelection();
        select(QString());
        name_->setFocus();
    });
    connect(save_, &QPushButton::clicked, this, &ProfilesDialog::saveForm);
    connect(delete_, &QPushButton::clicked, this, &ProfilesDialog::deleteSelected);
    connect(connect_, &QPushButton::clicked, this, [this] {
        saveForm();
        emit connectRequested(name_->text().trimmed());
        accept();
    });
    connect(close, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(store_, &ProfileStore::saved, this,
            [this](const QString &name, ProfileStore::PasswordStorage storage, const QString &detail) {
                storage_->setText(storage == ProfileStore::PasswordStorage::SecretStore
                                      ? tr("The password of %1 is in the system's secret store.").arg(name)
                                      : tr("No secret store answered (%1): the password of %2 is kept only until "
                                           "the console exits.")
                                            .arg(detail, name));
            });
    reload();
    select(store_->lastUsed());
}

void ProfilesDialog::reload()
{
    const QString current = name_->text().trimmed();
    const QSignalBlocker block(list_);
    list_->clear();
    for (const Profile &p : store_->profiles()) {
        list_->addItem(p.name);
        if (p.name == current)
            list_->setCurrentRow(list_->count() - 1);
    }
}

void ProfilesDialog::select(const QString &name)
{
    const std::optional<Profile> p = store_->profile(name);
    name_->setText(p ? p->name : QString());
    url_->setText(p ? p->url.toString() : QString());
    user_->setText(p ? p->user : QStringLiteral("guest"));
    password_->clear();
    password_->setPlaceholderText(p ? tr("(unchanged)") : QString());
    storage_->clear();
    const QList<QListWidgetItem *> items = list_->findItems(name, Qt::MatchExactly);
    if (!items.isEmpty()) {
        const QSignalBlocker block(list_);
        list_->setCurrentItem(items.first());
    }
    updateState();
}

void ProfilesDialog::fill(const Profile &profile)
{
    const QSignalBlocker block(list_);
    list_->clearSelection();
    name_->setText(profile.name);
    url_->setText(profile.url.toString());
    user_->setText(profile.user);
    password_->setText(profile.password);
    password_->setPlaceholderText(QString());
    storage_->clear();
    updateState();
}

QString ProfilesDialog::problem() const
{
    if (name_->text().trimmed().isEmpty())
        return tr("A profile needs a name.");
    const QUrl url(url_->text().trimmed(), QUrl::StrictMode);
    if (!url.isValid() || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")) ||
        url.host().isEmpty())
        return tr("The URL must be http://host:port or https://host:port (the broker's admin.listen).");
    if (user_->text().trimmed().isEmpty())
        return tr("A profile needs a user.");
    return QString();
}

void ProfilesDialog::updateState()
{
    const QString why = problem();
    error_->setText(why);
    save_->setEnabled(why.isEmpty());
    connect_->setEnabled(why.isEmpty());
    delete_->setEnabled(store_->profile(name_->text().trimmed()).has_value());
}

void ProfilesDialog::saveForm()
{
    if (!problem().isEmpty())
        return;
    store_->save(Profile{name_->text().trimmed(), QUrl(url_->text().trimmed()), user_->text().trimmed(),
                         password_->text()});
    password_->clear();
    password_->setPlaceholderText(tr("(unchanged)"));
    reload();
    updateState();
}

void ProfilesDialog::deleteSelected()
{
    const QString name = name_->text().trimmed();
    if (!store_->profile(name))
        return;
    if (QMessageBox::question(this, tr("Delete profile"), tr("Delete the profile %1 and its stored password?").arg(name)) !=
        QMessageBox::Yes)
        return;
    store_->remove(name);
    reload();
    select(QString());
}

} // namespace ferry::console
