// Widget tests: run offscreen, no core.
#include "widgets/class_picker.h"

#include <QListWidget>
#include <QSignalSpy>
#include <QtTest>

using lethe::widgets::ClassEntry;
using lethe::widgets::ClassPicker;

class TestWidgets : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void classPickerShowsNamesCountsAndThumbnails();
    void classPickerReportsChoiceByKeyboard();
};

namespace {
QList<ClassEntry> threeClasses()
{
    QList<ClassEntry> classes;
    for (int i = 0; i < 3; ++i) {
        QImage image(28, 28, QImage::Format_Grayscale8);
        image.fill(i * 100);
        classes.append({QStringLiteral("class %1").arg(i), image, 6000 + i});
    }
    return classes;
}
} // namespace

void TestWidgets::classPickerShowsNamesCountsAndThumbnails()
{
    ClassPicker picker;
    picker.setClasses(threeClasses());
    QCOMPARE(picker.classCount(), 3);
    QCOMPARE(picker.className(2), QStringLiteral("class 2"));
    QCOMPARE(picker.currentClass(), -1);
    auto* list = picker.findChild<QListWidget*>();
    QVERIFY(list);
    QCOMPARE(list->item(1)->text(), QStringLiteral("1  class 1 (6001 images)"));
    const QImage icon = list->item(2)->icon().pixmap(48, 48).toImage();
    QVERIFY(!icon.isNull());
    QCOMPARE(qGray(icon.pixel(24, 24)), 200);
    QCOMPARE(picker.className(5), QString());
}

void TestWidgets::classPickerReportsChoiceByKeyboard()
{
    ClassPicker picker;
    picker.setClasses(threeClasses());
    QSignalSpy spy(&picker, &ClassPicker::currentClassChanged);
    picker.setCurrentClass(0);
    auto* list = picker.findChild<QListWidget*>();
    QTest::keyClick(list, Qt::Key_Down);
    QCOMPARE(picker.currentClass(), 1);
    QCOMPARE(spy.count(), 2);
    QCOMPARE(spy.last().first().toInt(), 1);
    // Replacing the classes does not report a spurious choice.
    picker.setClasses(threeClasses());
    QCOMPARE(spy.count(), 2);
}

QTEST_MAIN(TestWidgets)
#include "test_widgets.moc"
