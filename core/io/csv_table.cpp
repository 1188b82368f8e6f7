#include "csv_table.h"

#include "core/error.h"

namespace lethe::io {

namespace {

/// The character for a message: printable ASCII as itself in quotes, anything else as a byte value.
std::string describeChar(char c)
{
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f)
        return std::string("'") + c + "'";
    return "byte " + std::to_string(byte);
}

bool isBlank(const CsvRecord& record)
{
    return record.fields.size() == 1 && record.fields.front().empty();
}

} // namespace

std::vector<CsvRecord> parseCsv(const std::string& text, const std::string& file)
{
    std::vector<CsvRecord> records;
    std::size_t i = 0;
    const std::size_t n = text.size();
    if (text.compare(0, 3, "\xEF\xBB\xBF") == 0)
        i = 3;
    std::int64_t line = 1;

    // At the top of each iteration, i is at the start of a record.
    while (i < n) {
        CsvRecord record;
        record.line = line;
        std::string field;
        bool recordDone = false;
        while (!recordDone) {
            if (i < n && text[i] == '"') {
                const std::int64_t quoteLine = line;
                ++i;
                for (;;) {
                    if (i >= n)
                        throw FormatError(file, "line " + std::to_string(quoteLine),
                            "unbalanced quote: the quoted field that starts on this line is not closed "
                            "before the end of the file (is the file truncated?)");
                    const char c = text[i];
                    if (c == '"') {
                        if (i + 1 < n && text[i + 1] == '"') {
                            field += '"';
                            i += 2;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    // Line breaks inside quotes are part of the field; count them for later messages.
                    if (c == '\n' || (c == '\r' && (i + 1 >= n || text[i + 1] != '\n')))
                        ++line;
                    field += c;
                    ++i;
                }
                if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    throw FormatError(file, "line " + std::to_string(line),
                        "expected a comma or the end of the line after the closing quote of field "
                            + std::to_string(record.fields.size() + 1) + ", found " + describeChar(text[i]));
            } else {
                while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
                    field += text[i++];
            }
            record.fields.push_back(std::move(field));
            field.clear();
            if (i >= n) {
                recordDone = true;
            } else if (text[i] == ',') {
                ++i;
            } else {
                // Line end: CRLF, LF or a lone CR.
                if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')
                    ++i;
                ++i;
                ++line;
                recordDone = true;
            }
        }
        if (!isBlank(record))
            records.push_back(std::move(record));
    }
    return records;
}

} // namespace lethe::io
