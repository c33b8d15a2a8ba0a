// MessageView: one message's details: its fields and properties (headers) as a table, and its body as text, hex or
// pretty-printed JSON (the view the user picks; JSON falls back to text when the body is not JSON).
#pragma once

#include "AdminTypes.h"

#include <QWidget>

class QComboBox;
class QPlainTextEdit;
class QTableWidget;

namespace ferry::console {

class MessageView : public QWidget {
    Q_OBJECT
public:
    enum class BodyMode { Text, Hex, Json };

    explicit MessageView(QWidget *parent = nullptr);
    void setMessage(const MessageInfo &message);
    void clear();
    void setBodyMode(BodyMode mode);
    // The body as shown now (tests).
    QString bodyText() const;

    static QString render(const QByteArray &body, BodyMode mode);

private:
    void showBody();

    QTableWidget *fields_;
    QComboBox *mode_;
    QPlainTextEdit *body_;
    QByteArray payload_;
};

} // namespace ferry::console
