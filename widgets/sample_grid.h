#pragma once

// A grid of generated samples: one row per class, one column per seed.
#include <QImage>
#include <QList>
#include <QStringList>
#include <QWidget>

namespace lethe::widgets {

/// Draws cells (all the same size) scaled by a whole factor so pixels stay sharp, row labels on the left,
/// the highlighted row (the forgotten class) framed in red. Click a cell or press Enter on the current one
/// to activate it; arrow keys move the current cell.
class SampleGrid : public QWidget {
    Q_OBJECT

public:
    explicit SampleGrid(QWidget* parent = nullptr);

    /// Cells in row-major order, `columns` per row; `rowLabels` names the rows (may be empty).
    void setCells(const QList<QImage>& cells, int columns, const QStringList& rowLabels = {});
    void setHighlightedRow(int row);
    void setTitle(const QString& title);
    /// Shown instead of the grid while there are no cells.
    void setPlaceholder(const QString& text);
    const QString& placeholder() const { return m_placeholder; }

    int rows() const;
    int columns() const;
    QImage cell(int row, int column) const;
    const QList<QImage>& cells() const;
    int highlightedRow() const;
    /// Where a cell is drawn, in widget coordinates (empty when outside the grid).
    QRect cellRect(int row, int column) const;
    QPoint currentCell() const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

Q_SIGNALS:
    void cellActivated(int row, int column);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void keyPressEvent(QKeyEvent* event) override;

private:
    struct Layout {
        int scale = 1;
        int labelWidth = 0;
        int top = 0;
        QSize cell;
    };
    Layout layoutFor(const QSize& area) const;

    QList<QImage> m_cells;
    QStringList m_rowLabels;
    QString m_title;
    QString m_placeholder;
    int m_columns = 1;
    int m_highlighted = -1;
    QPoint m_current { 0, 0 }; ///< x = column, y = row.
};

/// |a − b| × amplify per channel, clamped to 255; a null image when the sizes differ.
QImage differenceImage(const QImage& a, const QImage& b, double amplify = 4.0);

} // namespace lethe::widgets
