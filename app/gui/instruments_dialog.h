#pragma once

// The Class tab's choice of the literature's measuring instruments: a CLIP model folder for zero-shot UA and RA, and
// FID's Inception detector with reference statistics and resize rule. Each is optional.
#include "instrument_paths.h"

#include <QDialog>

class QComboBox;

namespace lethe::widgets {
class PathEdit;
}

namespace lethe::gui {

class InstrumentsDialog : public QDialog {
    Q_OBJECT

public:
    explicit InstrumentsDialog(const InstrumentPaths& paths, QWidget* parent = nullptr);

    InstrumentPaths paths() const;
    widgets::PathEdit* clipEdit() const { return m_clip; }
    widgets::PathEdit* inceptionEdit() const { return m_inception; }
    widgets::PathEdit* fidReferenceEdit() const { return m_fidReference; }
    QComboBox* fidResizeBox() const { return m_fidResize; }

private:
    widgets::PathEdit* m_clip = nullptr;
    widgets::PathEdit* m_inception = nullptr;
    widgets::PathEdit* m_fidReference = nullptr;
    QComboBox* m_fidResize = nullptr;
};

} // namespace lethe::gui
