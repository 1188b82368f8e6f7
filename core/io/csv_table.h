#pragma once

// A strict-enough CSV reader (RFC 4180 as pandas and Python's csv module write it), for prompt lists and sweep
// results.

#include <cstdint>
#include <string>
#include <vector>

namespace lethe::io {

/// One CSV record: its fields, and the line of the file it starts on (1-based; a quoted field may span lines).
struct CsvRecord {
    std::int64_t line = 0;
    std::vector<std::string> fields;
};

/// Splits CSV text into records. Fields are separated by commas; a field that starts with a double quote
/// runs to the matching closing quote and may hold commas, line breaks and doubled quotes ("" → ").
/// Lines end with LF, CRLF or CR; a UTF-8 byte-order mark at the start is skipped; blank lines are skipped;
/// a quote inside an unquoted field is kept as a literal character (as Python's csv module does).
/// Throws FormatError(file, "line N", …) for a quoted field that is never closed ("unbalanced quote") and
/// for anything but a comma or a line end after a closing quote.
std::vector<CsvRecord> parseCsv(const std::string& text, const std::string& file);

} // namespace lethe::io
