// ProfilesDialog: manage ferry-console's connection profiles (ProfileStore): add, edit and delete them, and connect
// to one. A saved password goes to the platform's secret store; the dialog says where it went (the secret store,
// or this session's memory only when there is none). The dialog never reads a stored password back: an empty
// password field keeps the stored one.
#pragma once

#include "AdminClient.h"

#include <QDialog>

class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;

namespace ferry::console {

class ProfileStore;

class ProfilesDialog : public QDialog {
    Q_OBJECT
public:
    // store: not owned; outlives the dialog.
    explicit ProfilesDialog(ProfileStore *store, QWidget *parent = nullptr);

    // Shows the profile `name` in the form (or an empty form for a new one when there is none).
    void select(const QString &name);
    // Fills the form with a profile that is not saved yet (its password included), to be saved as it is or edited.
    void fill(const Profile &profile);
    // The reason the form cannot be saved, or empty when it can.
    QString problem() const;

signals:
    // Connect was pressed for the profile `name` (saved first).
    void connectRequested(const QString &name);

private:
    void reload();
    void saveForm();
    void deleteSelected();
    void updateState();

    ProfileStore *store_;
    QListWidget *list_;
    QLineEdit *name_, *url_, *user_, *password_;
    QLabel *error_, *storage_;
    QPushButton *save_, *delete_, *connect_;
};

} // namespace ferry::console
