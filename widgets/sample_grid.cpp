#include "sample_grid.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace lethe::widgets {

namespace {
constexpr int kGap = 2;
constexpr int kFrame = 2;
} // namespace

SampleGrid::SampleGrid(QWidget* parent)
    : QWidget(parent)
{
    setFocusPolicy(Qt::StrongFocus);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void SampleGrid::setCells(const QList<QImage>& cells, int columns, const QStringList& rowLabels)
{
    m_cells = cells;
    m_columns = std::max(1, columns);
    m_rowLabels = rowLabels;
    m_current.setX(std::min(m_current.x(), m_columns - 1));
    m_current.setY(std::min(m_current.y(), std::max(0, rows() - 1)));
    updateGeometry();
    update();
}

void SampleGrid::setHighlightedRow(int row)
{
    m_highlighted = row;
    update();
}

void SampleGrid::setTitle(const QString& title)
{
    m_title = title;
    setAccessibleName(title);
    update();
}

void SampleGrid::setPlaceholder(const QString& text)
{
    m_placeholder = text;
    update();
}

int SampleGrid::rows() const
{
    return static_cast<int>((m_cells.size() + m_columns - 1) / m_columns);
}

int SampleGrid::columns() const
{
    return m_columns;
}

QImage SampleGrid::cell(int row, int column) const
{
    return m_cells.value(static_cast<qsizetype>(row) * m_columns + column);
}

const QList<QImage>& SampleGrid::cells() const
{
    return m_cells;
}

int SampleGrid::highlightedRow() const
{
    return m_highlighted;
}

QPoint SampleGrid::currentCell() const
{
    return m_current;
}

SampleGrid::Layout SampleGrid::layoutFor(const QSize& area) const
{
    Layout l;
    const QFontMetrics metrics(font());
    l.top = m_title.isEmpty() ? 0 : metrics.height() + 4;
    for (const QString& label : m_rowLabels)
        l.labelWidth = std::max(l.labelWidth, metrics.horizontalAdvance(label) + 8);
    const QSize cell = m_cells.isEmpty() ? QSize(32, 32) : m_cells.front().size();
    const int n = rows();
    if (n == 0 || cell.isEmpty())
        return l;
    const int byWidth = (area.width() - l.labelWidth - (m_columns + 1) * kGap) / (m_columns * cell.width());
    const int byHeight = (area.height() - l.top - (n + 1) * kGap) / (n * cell.height());
    l.scale = std::max(1, std::min(byWidth, byHeight));
    l.cell = cell * l.scale;
    return l;
}

QRect SampleGrid::cellRect(int row, int column) const
{
    if (row < 0 || row >= rows() || column < 0 || column >= m_columns)
        return {};
    const Layout l = layoutFor(size());
    return QRect(l.labelWidth + kGap + column * (l.cell.width() + kGap), l.top + kGap + row * (l.cell.height() + kGap),
        l.cell.width(), l.cell.height());
}

QSize SampleGrid::sizeHint() const
{
    const QSize cell = m_cells.isEmpty() ? QSize(32, 32) : m_cells.front().size();
    const int n = std::max(1, rows());
    const QFontMetrics metrics(font());
    int labels = 0;
    for (const QString& label : m_rowLabels)
        labels = std::max(labels, metrics.horizontalAdvance(label) + 8);
    return { labels + m_columns * (cell.width() * 2 + kGap) + kGap,
        (m_title.isEmpty() ? 0 : metrics.height() + 4) + n * (cell.height() * 2 + kGap) + kGap };
}

QSize SampleGrid::minimumSizeHint() const
{
    return { 120, 120 };
}

void SampleGrid::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().color(QPalette::Base));
    const Layout l = layoutFor(size());
    if (!m_title.isEmpty()) {
        QFont bold = font();
        bold.setBold(true);
        painter.setFont(bold);
        painter.drawText(QRect(0, 0, width(), l.top), Qt::AlignLeft | Qt::AlignVCenter, m_title);
        painter.setFont(font());
    }
    if (m_cells.isEmpty()) {
        painter.setPen(palette().color(QPalette::PlaceholderText));
        painter.drawText(rect().adjusted(0, l.top, 0, 0), Qt::AlignCenter | Qt::TextWordWrap, m_placeholder);
        return;
    }
    painter.setRenderHint(QPainter::SmoothPixmapTransform, false);
    for (int r = 0; r < rows(); ++r) {
        const QRect first = cellRect(r, 0);
        if (r < m_rowLabels.size()) {
            painter.setPen(r == m_highlighted ? QColor(220, 40, 40) : palette().color(QPalette::Text));
            painter.drawText(QRect(0, first.top(), l.labelWidth - 4, first.height()), Qt::AlignRight | Qt::AlignVCenter,
                m_rowLabels[r]);
        }
        for (int c = 0; c < m_columns; ++c) {
            const QImage image = cell(r, c);
            if (!image.isNull())
                painter.drawImage(cellRect(r, c), image);
        }
        if (r == m_highlighted) {
            const QRect last = cellRect(r, m_columns - 1);
            painter.setPen(QPen(QColor(220, 40, 40), kFrame));
            painter.setBrush(Qt::NoBrush);
            painter.drawRect(QRect(first.topLeft(), last.bottomRight()).adjusted(-1, -1, 1, 1));
        }
    }
    if (hasFocus()) {
        painter.setPen(QPen(palette().color(QPalette::Highlight), 1, Qt::DashLine));
        painter.drawRect(cellRect(m_current.y(), m_current.x()).adjusted(-1, -1, 0, 0));
    }
}

void SampleGrid::mousePressEvent(QMouseEvent* event)
{
    for (int r = 0; r < rows(); ++r)
        for (int c = 0; c < m_columns; ++c)
            if (cellRect(r, c).contains(event->position().toPoint())) {
                m_current = QPoint(c, r);
                update();
                Q_EMIT cellActivated(r, c);
                return;
            }
    QWidget::mousePressEvent(event);
}

void SampleGrid::keyPressEvent(QKeyEvent* event)
{
    QPoint next = m_current;
    switch (event->key()) {
    case Qt::Key_Left:
        next.rx() -= 1;
        break;
    case Qt::Key_Right:
        next.rx() += 1;
        break;
    case Qt::Key_Up:
        next.ry() -= 1;
        break;
    case Qt::Key_Down:
        next.ry() += 1;
        break;
    case Qt::Key_Return:
    case Qt::Key_Enter:
        if (!m_cells.isEmpty())
            Q_EMIT cellActivated(m_current.y(), m_current.x());
        return;
    default:
        QWidget::keyPressEvent(event);
        return;
    }
    next.setX(std::clamp(next.x(), 0, m_columns - 1));
    next.setY(std::clamp(next.y(), 0, std::max(0, rows() - 1)));
    m_current = next;
    update();
}

QImage differenceImage(const QImage& a, const QImage& b, double amplify)
{
    if (a.size() != b.size() || a.isNull())
        return {};
    const QImage x = a.convertToFormat(QImage::Format_RGB888);
    const QImage y = b.convertToFormat(QImage::Format_RGB888);
    QImage out(x.size(), QImage::Format_RGB888);
    for (int row = 0; row < x.height(); ++row) {
        const uchar* p = x.constScanLine(row);
        const uchar* q = y.constScanLine(row);
        uchar* o = out.scanLine(row);
        for (int i = 0; i < x.width() * 3; ++i)
            o[i] = static_cast<uchar>(std::min(255.0, std::round(std::abs(int(p[i]) - int(q[i])) * amplify)));
    }
    return out;
}

} // namespace lethe::widgets
