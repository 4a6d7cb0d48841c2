#include "cf/factorimport.h"

#include "util/error.h"
#include "util/parallel.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>

#include <zip.h>

#include <cmath>
#include <cstring>
#include <functional>

namespace recwb::cf {

namespace {

    constexpr int kFirstFew = 10;

    // An .npz is a zip of NAME.npy entries (stored by np.savez, deflated by savez_compressed).
    class ZipArchive {
    public:
        explicit ZipArchive(const QString& path)
            : m_path(path)
        {
            const QFileInfo fi(path);
            if (!fi.exists())
                throw Error(QStringLiteral("%1: no such file").arg(path));
            if (!fi.isFile())
                throw Error(QStringLiteral("%1: not a regular file").arg(path));
            int code = 0;
            m_zip = zip_open(QFile::encodeName(path).constData(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
            if (!m_zip) {
                zip_error_t e;
                zip_error_init_with_code(&e, code);
                const QString why = QString::fromLocal8Bit(zip_error_strerror(&e));
                zip_error_fini(&e);
                throw Error(QStringLiteral("%1: not a readable .npz (zip) archive: %2 (truncated, or not written by "
                                           "numpy.savez?)")
                                .arg(path, why));
            }
        }
        ~ZipArchive() { zip_discard(m_zip); }
        ZipArchive(const ZipArchive&) = delete;
        ZipArchive& operator=(const ZipArchive&) = delete;

        QStringList arrayNames() const
        {
            QStringList names;
            const zip_int64_t n = zip_get_num_entries(m_zip, 0);
            for (zip_int64_t i = 0; i < n; ++i) {
                const QString name = QString::fromUtf8(zip_get_name(m_zip, static_cast<zip_uint64_t>(i), 0));
                if (name.endsWith(u".npy"))
                    names << name.chopped(4);
            }
            return names;
        }

        // The bytes of NAME.npy, or nullopt when the archive has no such array.
        std::optional<QByteArray> read(const QString& array) const
        {
            const QByteArray entry = (array + QStringLiteral(".npy")).toUtf8();
            zip_stat_t st;
            zip_stat_init(&st);
            if (zip_stat(m_zip, entry.constData(), 0, &st) != 0)
                return std::nullopt;
            if (!(st.valid & ZIP_STAT_SIZE) || st.size > (zip_uint64_t { 1 } << 34))
                throw Error(QStringLiteral("%1: array %2 has no usable size in the archive").arg(m_path, array));
            zip_file_t* f = zip_fopen(m_zip, entry.constData(), 0);
            if (!f)
                throw Error(QStringLiteral("%1: array %2 cannot be opened: %3")
                                .arg(m_path, array, QString::fromLocal8Bit(zip_strerror(m_zip))));
            // Read until libzip reports the end: that last read checks the CRC.
            QByteArray bytes(static_cast<qsizetype>(st.size) + 1, Qt::Uninitialized);
            zip_uint64_t done = 0;
            QString why;
            for (;;) {
                const zip_int64_t got = zip_fread(f, bytes.data() + done, st.size + 1 - done);
                if (got < 0)
                    why = QString::fromLocal8Bit(zip_error_strerror(zip_file_get_error(f)));
                else if (got > 0 && done + static_cast<zip_uint64_t>(got) > st.size)
                    why = QStringLiteral("longer than the archive says");
                else if (got == 0 && done < st.size)
                    why = QStringLiteral("ends early");
                if (!why.isEmpty()) {
                    zip_fclose(f);
                    throw Error(QStringLiteral("%1: array %2 is damaged or truncated: %3").arg(m_path, array, why));
                }
                if (got == 0)
                    break;
                done += static_cast<zip_uint64_t>(got);
            }
            bytes.chop(1);
            zip_fclose(f);
            return bytes;
        }

    private:
        QString m_path;
        zip_t* m_zip = nullptr;
    };

    // One .npy array: its dtype ('<f4': byte order, kind, item size), layout, shape and data.
    struct NpyArray {
        QString file, name, descr;
        char order = '<';
        char kind = 'f';
        int itemSize = 4; // bytes per element
        bool fortran = false;
        std::vector<int64_t> shape;
        QByteArray data;
        QString where() const { return QStringLiteral("%1: array %2").arg(file, name); }
        static constexpr int64_t kTooMany = int64_t { 1 } << 40;
        // Elements, saturating at kTooMany (a damaged shape must not overflow).
        int64_t count() const
        {
            int64_t n = 1;
            for (const int64_t d : shape)
                n = (d != 0 && n > kTooMany / d) ? kTooMany : n * d;
            return n;
        }
        QString shapeText() const
        {
            QStringList s;
            for (const int64_t d : shape)
                s << QString::number(d);
            return QStringLiteral("(%1)").arg(s.join(QStringLiteral(", ")));
        }
    };

    quint32 littleEndian(const char* p, int bytes)
    {
        quint32 v = 0;
        for (int i = bytes - 1; i >= 0; --i)
            v = (v << 8) | static_cast<uchar>(p[i]);
        return v;
    }

    // The .npy format, versions 1.0 (2-byte header length), 2.0 and 3.0 (4 bytes; 3.0 has a
    // UTF-8 header): "\x93NUMPY", major, minor, length, a Python dict literal, the raw data.
    NpyArray parseNpy(const QByteArray& bytes, const QString& file, const QString& name)
    {
        NpyArray a;
        a.file = file;
        a.name = name;
        if (bytes.size() < 10 || !bytes.startsWith("\x93NUMPY"))
            throw Error(QStringLiteral("%1 is not a .npy array (no \\x93NUMPY magic)").arg(a.where()));
        const int major = static_cast<uchar>(bytes[6]);
        if (major < 1 || major > 3)
            throw Error(
                QStringLiteral("%1: .npy format version %2 is not read (1, 2 and 3 are)").arg(a.where()).arg(major));
        const int lenBytes = major == 1 ? 2 : 4;
        const qsizetype start = 8 + lenBytes;
        if (bytes.size() < start)
            throw Error(QStringLiteral("%1: the .npy header is truncated").arg(a.where()));
        const qsizetype headerLen = littleEndian(bytes.constData() + 8, lenBytes);
        if (bytes.size() < start + headerLen)
            throw Error(QStringLiteral("%1: the .npy header is truncated").arg(a.where()));
        const QString header = QString::fromUtf8(bytes.constData() + start, headerLen);
        static const QRegularExpression descrRe(QStringLiteral("'descr'\\s*:\\s*'([^']*)'"));
        static const QRegularExpression fortranRe(QStringLiteral("'fortran_order'\\s*:\\s*(True|False)"));
        static const QRegularExpression shapeRe(QStringLiteral("'shape'\\s*:\\s*\\(([^)]*)\\)"));
        const auto descr = descrRe.match(header);
        const auto fortran = fortranRe.match(header);
        const auto shape = shapeRe.match(header);
        if (!descr.hasMatch() || !fortran.hasMatch() || !shape.hasMatch())
            throw Error(QStringLiteral("%1: the .npy header lacks descr, fortran_order or shape (a structured or "
                                       "object array?): %2")
                            .arg(a.where(), header.trimmed()));
        a.descr = descr.captured(1);
        static const QRegularExpression dtypeRe(QStringLiteral("^([<>|=])([a-zA-Z])(\\d+)$"));
        const auto dt = dtypeRe.match(a.descr);
        if (!dt.hasMatch())
            throw Error(QStringLiteral("%1 has dtype '%2', which is not read").arg(a.where(), a.descr));
        a.order = dt.captured(1).at(0).toLatin1();
        a.kind = dt.captured(2).at(0).toLatin1();
        a.itemSize = dt.captured(3).toInt();
        if (a.kind == 'U')
            a.itemSize *= 4; // '<U5': five UTF-32 code units
        a.fortran = fortran.captured(1) == u"True";
        for (const QString& d : shape.captured(1).split(u',', Qt::SkipEmptyParts)) {
            bool ok = false;
            const qint64 v = d.trimmed().toLongLong(&ok);
            if (!ok || v < 0)
                throw Error(QStringLiteral("%1: bad shape (%2)").arg(a.where(), shape.captured(1)));
            a.shape.push_back(v);
        }
        a.data = bytes.mid(start + headerLen);
        if (a.itemSize <= 0 || a.count() > (int64_t { 1 } << 34) / a.itemSize)
            throw Error(QStringLiteral("%1: shape %2 of '%3' is larger than this reader takes (16 GiB)")
                            .arg(a.where(), a.shapeText(), a.descr));
        if (a.data.size() < a.count() * a.itemSize)
            throw Error(QStringLiteral("%1 is truncated: shape %2 of '%3' needs %4 bytes, the file holds %5")
                            .arg(a.where(), a.shapeText(), a.descr)
                            .arg(a.count() * a.itemSize)
                            .arg(a.data.size()));
        return a;
    }

    bool littleOrNative(const NpyArray& a)
    {
        return a.order == '<' || a.order == '|' || a.order == '=';
    }

    // A factor matrix: 2-d, little-endian float32 or float64, C order.
    RowMatrixF toMatrix(const NpyArray& a)
    {
        if (a.kind != 'f' || (a.itemSize != 4 && a.itemSize != 8) || !littleOrNative(a) || a.fortran
            || a.shape.size() != 2)
            throw Error(QStringLiteral("%1 is '%2'%3 with shape %4: only a 2-d little-endian float32 or float64 array "
                                       "('<f4', '<f8') in C order is read (numpy.ascontiguousarray(x, dtype='<f4') "
                                       "before saving)")
                            .arg(a.where(), a.descr, a.fortran ? QStringLiteral(" in Fortran order") : QString(),
                                a.shapeText()));
        RowMatrixF m(a.shape[0], a.shape[1]);
        if (a.itemSize == 4) {
            std::memcpy(m.data(), a.data.constData(), static_cast<size_t>(m.size()) * 4);
        } else {
            for (Eigen::Index i = 0; i < m.size(); ++i) {
                double v;
                std::memcpy(&v, a.data.constData() + i * 8, 8);
                m.data()[i] = static_cast<float>(v);
            }
        }
        for (Eigen::Index i = 0; i < m.size(); ++i)
            if (!std::isfinite(m.data()[i]))
                throw Error(
                    QStringLiteral("%1: row %2 has a value that is not finite").arg(a.where()).arg(i / m.cols()));
        return m;
    }

    double elementAsNumber(const NpyArray& a, int64_t i)
    {
        const char* p = a.data.constData() + i * a.itemSize;
        if (a.kind == 'f' && a.itemSize == 8) {
            double v;
            std::memcpy(&v, p, 8);
            return v;
        }
        if (a.kind == 'f' && a.itemSize == 4) {
            float v;
            std::memcpy(&v, p, 4);
            return v;
        }
        if ((a.kind == 'i' || a.kind == 'u') && (a.itemSize == 4 || a.itemSize == 8)) {
            if (a.itemSize == 4) {
                int32_t v;
                std::memcpy(&v, p, 4);
                return a.kind == 'u' ? static_cast<double>(static_cast<uint32_t>(v)) : v;
            }
            int64_t v;
            std::memcpy(&v, p, 8);
            return a.kind == 'u' ? static_cast<double>(static_cast<uint64_t>(v)) : static_cast<double>(v);
        }
        if (a.kind == 'b' && a.itemSize == 1)
            return p[0] != 0 ? 1 : 0;
        throw Error(QStringLiteral("%1 is '%2': not a number this reader knows").arg(a.where(), a.descr));
    }

    // A scalar parameter (a 0-d array as numpy.savez writes a Python number).
    std::optional<double> toScalar(const NpyArray& a)
    {
        if (a.count() != 1 || !littleOrNative(a))
            return std::nullopt;
        if (a.kind != 'f' && a.kind != 'i' && a.kind != 'u' && a.kind != 'b')
            return std::nullopt;
        return elementAsNumber(a, 0);
    }

    // Row ids: a 1-d array of integers (kept as their decimal text) or of strings.
    QStringList toIds(const NpyArray& a)
    {
        if (a.shape.size() != 1 || !littleOrNative(a) || a.fortran)
            throw Error(QStringLiteral("%1 is '%2' with shape %3: ids must be a 1-d array")
                            .arg(a.where(), a.descr, a.shapeText()));
        QStringList ids;
        ids.reserve(a.shape[0]);
        for (int64_t i = 0; i < a.shape[0]; ++i) {
            const char* p = a.data.constData() + i * a.itemSize;
            if (a.kind == 'U') {
                QList<char32_t> units(a.itemSize / 4);
                std::memcpy(units.data(), p, static_cast<size_t>(a.itemSize));
                while (!units.isEmpty() && units.back() == 0)
                    units.removeLast();
                ids << QString::fromUcs4(units.constData(), units.size());
            } else if (a.kind == 'S') {
                ids << QString::fromUtf8(p, static_cast<qsizetype>(strnlen(p, static_cast<size_t>(a.itemSize))));
            } else if ((a.kind == 'i' || a.kind == 'u') && (a.itemSize == 4 || a.itemSize == 8)) {
                ids << QString::number(static_cast<qint64>(elementAsNumber(a, i)));
            } else {
                throw Error(QStringLiteral("%1 is '%2': ids must be integers ('<i4', '<i8') or strings ('<U..')")
                                .arg(a.where(), a.descr));
            }
        }
        return ids;
    }

    // One id per line, row order; blank trailing lines are ignored, a blank line inside is an error.
    QStringList readIdFile(const QString& path)
    {
        QFile f(path);
        if (!QFileInfo(path).isFile() || !f.open(QIODevice::ReadOnly))
            throw Error(QStringLiteral("%1: cannot read the id file").arg(path));
        QStringList ids;
        int line = 0;
        int blankAt = 0;
        while (!f.atEnd()) {
            ++line;
            const QString id = QString::fromUtf8(f.readLine()).trimmed();
            if (id.isEmpty()) {
                if (!blankAt)
                    blankAt = line;
                continue;
            }
            if (blankAt)
                throw Error(QStringLiteral("%1:%2: empty line among the ids (one id per line, in row order)")
                                .arg(path)
                                .arg(blankAt));
            ids << id;
        }
        return ids;
    }

    // Ids must match rows one to one and be distinct (a duplicate would map two rows onto one user).
    void checkIds(const QStringList& ids, int64_t rows, const QString& idSource, const QString& rowSource)
    {
        if (ids.size() != rows)
            throw Error(QStringLiteral("%1 has %2 ids but %3 has %4 rows")
                            .arg(idSource)
                            .arg(ids.size())
                            .arg(rowSource)
                            .arg(rows));
        QHash<QString, qsizetype> first;
        first.reserve(ids.size());
        for (qsizetype r = 0; r < ids.size(); ++r) {
            const auto it = first.constFind(ids[r]);
            if (it != first.constEnd())
                throw Error(QStringLiteral("%1: id '%2' is given twice (rows %3 and %4)")
                                .arg(idSource, ids[r])
                                .arg(*it)
                                .arg(r));
            first.insert(ids[r], r);
        }
    }

    QJsonValue jsonOf(double v)
    {
        return std::isfinite(v) ? QJsonValue(v) : QJsonValue();
    }

    // The part-* files of a Spark output folder (sorted), or the file itself.
    QStringList sparkFiles(const QString& path)
    {
        const QFileInfo fi(path);
        if (!fi.exists())
            throw Error(QStringLiteral("%1: no such file or folder").arg(path));
        if (fi.isFile())
            return { path };
        QStringList files;
        const QDir dir(path);
        for (const QString& name : dir.entryList(QDir::Files, QDir::Name))
            if (name.startsWith(u"part-") && !name.endsWith(u".crc"))
                files << dir.filePath(name);
        if (files.isEmpty())
            throw Error(QStringLiteral("%1: no part-* files in the folder (the userFactors or itemFactors folder of a "
                                       "saved Spark ALSModel)")
                            .arg(path));
        return files;
    }

    // Lines {"id": 12, "features": [...]} of every file: the ids as text and the factor rows.
    void readSparkSide(const QString& path, QStringList& ids, RowMatrixF& out)
    {
        std::vector<float> values;
        int factors = -1;
        QHash<QString, QString> seenAt; // id -> file:line
        for (const QString& file : sparkFiles(path)) {
            QFile f(file);
            if (!f.open(QIODevice::ReadOnly))
                throw Error(QStringLiteral("%1: cannot read: %2").arg(file, f.errorString()));
            int line = 0;
            while (!f.atEnd()) {
                ++line;
                const QByteArray text = f.readLine().trimmed();
                if (text.isEmpty())
                    continue;
                const QString where = QStringLiteral("%1:%2").arg(file).arg(line);
                QJsonParseError pe;
                const QJsonDocument doc = QJsonDocument::fromJson(text, &pe);
                if (!doc.isObject())
                    throw Error(QStringLiteral("%1: not a JSON object (%2)")
                                    .arg(where,
                                        pe.error != QJsonParseError::NoError
                                            ? pe.errorString()
                                            : QStringLiteral("expected {\"id\": ..., \"features\": [...]}")));
                const QJsonObject o = doc.object();
                const QJsonValue idValue = o.value(QStringLiteral("id"));
                QString id;
                if (idValue.isDouble() && idValue.toDouble() == std::floor(idValue.toDouble())
                    && std::abs(idValue.toDouble()) < 9.0e15)
                    id = QString::number(static_cast<qint64>(idValue.toDouble()));
                else if (idValue.isString() && !idValue.toString().isEmpty())
                    id = idValue.toString();
                else
                    throw Error(QStringLiteral("%1: \"id\" must be an integer or a string").arg(where));
                const QJsonValue fv = o.value(QStringLiteral("features"));
                if (!fv.isArray())
                    throw Error(QStringLiteral("%1: \"features\" must be an array of numbers").arg(where));
                const QJsonArray features = fv.toArray();
                if (factors < 0)
                    factors = static_cast<int>(features.size());
                if (features.size() != factors || factors == 0)
                    throw Error(QStringLiteral("%1: %2 features, the first row had %3")
                                    .arg(where)
                                    .arg(features.size())
                                    .arg(factors));
                for (const QJsonValue& v : features) {
                    if (!v.isDouble())
                        throw Error(QStringLiteral("%1: a feature is not a number").arg(where));
                    values.push_back(static_cast<float>(v.toDouble()));
                }
                const auto it = seenAt.constFind(id);
                if (it != seenAt.constEnd())
                    throw Error(QStringLiteral("%1: id '%2' was already given at %3").arg(where, id, *it));
                seenAt.insert(id, where);
                ids << id;
            }
        }
        if (ids.isEmpty())
            throw Error(QStringLiteral("%1: no factor rows").arg(path));
        out = Eigen::Map<RowMatrixF>(values.data(), ids.size(), factors);
    }

    // Where ids of the file land in the workspace: index per row (-1 when unknown), with the
    // unknown ones counted and the first few kept.
    std::vector<int32_t> mapIds(const QStringList& ids, const std::function<int32_t(const QString&)>& index,
        int& unknown, QStringList& firstUnknown)
    {
        std::vector<int32_t> rows(static_cast<size_t>(ids.size()));
        for (qsizetype r = 0; r < ids.size(); ++r) {
            rows[static_cast<size_t>(r)] = index(ids[r]);
            if (rows[static_cast<size_t>(r)] < 0 && ++unknown <= kFirstFew)
                firstUnknown << ids[r];
        }
        return rows;
    }

    // The file's rows at their workspace indices (rows[r], -1: dropped) in a zero matrix of
    // `count` rows; placed[i] says whether row i got one.
    RowMatrixF placeRows(
        const RowMatrixF& file, const std::vector<int32_t>& rows, int32_t count, std::vector<char>& placed)
    {
        RowMatrixF m = RowMatrixF::Zero(count, file.cols());
        placed.assign(static_cast<size_t>(count), 0);
        for (size_t r = 0; r < rows.size(); ++r)
            if (rows[r] >= 0) {
                m.row(rows[r]) = file.row(static_cast<Eigen::Index>(r));
                placed[static_cast<size_t>(rows[r])] = 1;
            }
        return m;
    }

} // namespace

QJsonObject FactorImportReport::toJson() const
{
    return { { QStringLiteral("file_users"), fileUsers }, { QStringLiteral("file_items"), fileItems },
        { QStringLiteral("factors"), factors }, { QStringLiteral("users_matched"), usersMatched },
        { QStringLiteral("items_matched"), itemsMatched }, { QStringLiteral("unknown_users"), unknownUsers },
        { QStringLiteral("first_unknown_users"), QJsonArray::fromStringList(firstUnknownUsers) },
        { QStringLiteral("unknown_items"), unknownItems },
        { QStringLiteral("first_unknown_items"), QJsonArray::fromStringList(firstUnknownItems) },
        { QStringLiteral("users_folded_in"), usersFoldedIn },
        { QStringLiteral("items_without_factors"), itemsWithoutFactors },
        { QStringLiteral("first_items_without_factors"), QJsonArray::fromStringList(firstItemsWithoutFactors) },
        { QStringLiteral("reg"), reg }, { QStringLiteral("alpha"), alpha } };
}

ExternalFactors readImplicitNpz(const QString& npzPath, const QString& userIdsFile, const QString& itemIdsFile)
{
    const ZipArchive zip(npzPath);
    auto array = [&](const QString& name, bool required) -> std::optional<NpyArray> {
        const auto bytes = zip.read(name);
        if (!bytes) {
            if (required)
                throw Error(QStringLiteral("%1: no array %2 (arrays: %3); an implicit AlternatingLeastSquares.save "
                                           "file has user_factors and item_factors")
                                .arg(npzPath, name, zip.arrayNames().join(QStringLiteral(", "))));
            return std::nullopt;
        }
        return parseNpy(*bytes, npzPath, name);
    };
    ExternalFactors f;
    f.format = QStringLiteral("implicit");
    f.userSource = npzPath;
    f.itemSource = npzPath;
    f.user = toMatrix(*array(QStringLiteral("user_factors"), true));
    f.item = toMatrix(*array(QStringLiteral("item_factors"), true));
    if (f.user.cols() != f.item.cols())
        throw Error(QStringLiteral("%1: user_factors has %2 factors per row but item_factors has %3")
                        .arg(npzPath)
                        .arg(f.user.cols())
                        .arg(f.item.cols()));
    if (f.item.rows() == 0 || f.item.cols() == 0)
        throw Error(QStringLiteral("%1: item_factors is empty").arg(npzPath));
    auto ids = [&](const QString& file, const QString& arrayName, const RowMatrixF& rows, QString& source) {
        QStringList list;
        if (!file.isEmpty()) {
            list = readIdFile(file);
            source = file;
        } else if (const auto a = array(arrayName, false)) {
            list = toIds(*a);
            source = QStringLiteral("%1: array %2").arg(npzPath, arrayName);
        } else {
            throw Error(QStringLiteral("%1 carries no %2: give the ids of its rows in order with --%3 FILE (implicit "
                                       "stores row indices only)")
                            .arg(npzPath, arrayName, QString(arrayName).replace(u'_', u'-')));
        }
        checkIds(list, rows.rows(), source,
            QStringLiteral("%1: array %2")
                .arg(npzPath,
                    arrayName == u"user_ids" ? QStringLiteral("user_factors") : QStringLiteral("item_factors")));
        return list;
    };
    f.userIds = ids(userIdsFile, QStringLiteral("user_ids"), f.user, f.userIdSource);
    f.itemIds = ids(itemIdsFile, QStringLiteral("item_ids"), f.item, f.itemIdSource);
    for (const QString& key : { QStringLiteral("factors"), QStringLiteral("regularization"), QStringLiteral("alpha"),
             QStringLiteral("iterations") }) {
        if (const auto a = array(key, false))
            if (const auto v = toScalar(*a))
                f.fileParams.insert(key, jsonOf(*v));
    }
    return f;
}

ExternalFactors readSparkAls(const QString& usersPath, const QString& itemsPath)
{
    ExternalFactors f;
    f.format = QStringLiteral("spark");
    f.userSource = f.userIdSource = usersPath;
    f.itemSource = f.itemIdSource = itemsPath;
    readSparkSide(usersPath, f.userIds, f.user);
    readSparkSide(itemsPath, f.itemIds, f.item);
    if (f.user.cols() != f.item.cols())
        throw Error(QStringLiteral("%1 has %2 features per row but %3 has %4")
                        .arg(usersPath)
                        .arg(f.user.cols())
                        .arg(itemsPath)
                        .arg(f.item.cols()));
    return f;
}

std::unique_ptr<Ials> buildImportedModel(const ExternalFactors& factors, const Dataset& ds,
    const FactorImportOptions& options, FactorImportReport* reportOut)
{
    FactorImportReport report;
    report.fileUsers = static_cast<int>(factors.user.rows());
    report.fileItems = static_cast<int>(factors.item.rows());
    report.factors = static_cast<int>(factors.item.cols());
    const auto userRows = mapIds(
        factors.userIds, [&](const QString& id) { return ds.userIndex(id); }, report.unknownUsers,
        report.firstUnknownUsers);
    const auto itemRows = mapIds(
        factors.itemIds, [&](const QString& id) { return ds.itemIndex(id); }, report.unknownItems,
        report.firstUnknownItems);
    auto unknownText = [](int n, const QStringList& first, const QString& what, const QString& source) {
        return QStringLiteral("%1: %2 %3 %4 not in the workspace (%5)")
            .arg(source)
            .arg(n)
            .arg(what, n == 1 ? QStringLiteral("id is") : QStringLiteral("ids are"),
                (n > first.size() ? QStringLiteral("first: ") : QString()) + first.join(QStringLiteral(", ")));
    };
    if (!options.skipUnknownIds && (report.unknownUsers > 0 || report.unknownItems > 0)) {
        QStringList problems;
        if (report.unknownUsers > 0)
            problems << unknownText(
                report.unknownUsers, report.firstUnknownUsers, QStringLiteral("user"), factors.userIdSource);
        if (report.unknownItems > 0)
            problems << unknownText(
                report.unknownItems, report.firstUnknownItems, QStringLiteral("item"), factors.itemIdSource);
        throw Error(problems.join(QStringLiteral("; "))
            + QStringLiteral(
                ". Ids are matched exactly, never guessed: import the factors into the workspace they were "
                "trained for, or pass --skip-unknown-ids to drop those rows"));
    }
    report.itemsMatched = report.fileItems - report.unknownItems;
    report.usersMatched = report.fileUsers - report.unknownUsers;
    if (report.itemsMatched == 0)
        throw Error(
            unknownText(report.unknownItems, report.firstUnknownItems, QStringLiteral("item"), factors.itemIdSource)
            + QStringLiteral(": no item matches, nothing to recommend"));

    const Eigen::Index f = factors.item.cols();
    std::vector<char> hasItem;
    RowMatrixF item = placeRows(factors.item, itemRows, ds.numItems(), hasItem);
    for (int32_t i = 0; i < ds.numItems(); ++i)
        if (!hasItem[static_cast<size_t>(i)] && ++report.itemsWithoutFactors <= kFirstFew)
            report.firstItemsWithoutFactors << ds.items[static_cast<size_t>(i)].externalId;

    // implicit's confidence is alpha x value (the -1 of the positive terms is built into its
    // solver), ours 1 + alpha: binary histories fold in alike with ours = implicit's - 1.
    // Without values in the file, the trainers' defaults: implicit regularization 0.01,
    // Spark regParam 0.1 and alpha 1 (Spark's confidence is 1 + alpha r, as ours).
    const auto fileNumber = [&](const QString& key) -> std::optional<double> {
        const QJsonValue v = factors.fileParams.value(key);
        return v.isDouble() ? std::optional<double>(v.toDouble()) : std::nullopt;
    };
    const bool spark = factors.format == u"spark";
    report.reg = options.reg.value_or(fileNumber(QStringLiteral("regularization")).value_or(spark ? 0.1 : 0.01));
    report.alpha = options.alpha.value_or(
        fileNumber(QStringLiteral("alpha")).has_value() ? *fileNumber(QStringLiteral("alpha")) - 1.0 : 1.0);
    QJsonObject provenance { { QStringLiteral("format"), factors.format },
        { QStringLiteral("users"), factors.userSource }, { QStringLiteral("items"), factors.itemSource },
        { QStringLiteral("user_ids"), factors.userIdSource }, { QStringLiteral("item_ids"), factors.itemIdSource },
        { QStringLiteral("file_params"), factors.fileParams } };
    auto model = std::make_unique<Ials>(QJsonObject { { QStringLiteral("factors"), static_cast<int>(f) },
        { QStringLiteral("reg"), report.reg }, { QStringLiteral("alpha"), report.alpha },
        { QStringLiteral("iterations"), fileNumber(QStringLiteral("iterations")).value_or(15) } });
    // Users first take the item factors alone, so those missing from the file fold in.
    model->setImported(RowMatrixF(), item, {});
    std::vector<char> hasUser;
    RowMatrixF user = placeRows(factors.user, userRows, ds.numUsers(), hasUser);
    report.usersFoldedIn = static_cast<int>(std::count(hasUser.begin(), hasUser.end(), 0));
    parallelFor(ds.numUsers(), [&](int64_t begin, int64_t end) {
        for (int64_t u = begin; u < end; ++u)
            if (!hasUser[static_cast<size_t>(u)])
                user.row(u) = model
                                  ->foldIn(History::adHoc(ds.userItems.row(static_cast<int32_t>(u)),
                                      ds.userItems.rowValues(static_cast<int32_t>(u))))
                                  .transpose();
    });
    provenance.insert(QStringLiteral("report"), report.toJson());
    model->setImported(std::move(user), std::move(item), provenance);
    if (reportOut)
        *reportOut = report;
    return model;
}

} // namespace recwb::cf
