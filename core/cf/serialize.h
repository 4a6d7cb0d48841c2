#pragma once

#include "cf/models.h"
#include "data/csr.h"
#include "util/error.h"

#include <QDataStream>
#include <QIODevice>

namespace recwb::cf::io {

template <typename T, typename A>
void writeVector(QDataStream& s, const std::vector<T, A>& v)
{
    s << static_cast<qint64>(v.size());
    s.writeRawData(reinterpret_cast<const char*>(v.data()), static_cast<int>(v.size() * sizeof(T)));
}

template <typename T, typename A>
void readVector(QDataStream& s, std::vector<T, A>& v)
{
    qint64 n = 0;
    s >> n;
    if (n < 0 || n > (qint64 { 1 } << 40))
        throw Error(QStringLiteral("model snapshot is corrupt (vector size %1)").arg(n));
    v.resize(static_cast<size_t>(n));
    if (s.readRawData(reinterpret_cast<char*>(v.data()), static_cast<int>(v.size() * sizeof(T)))
        != static_cast<int>(v.size() * sizeof(T)))
        throw Error(QStringLiteral("model snapshot is truncated"));
}

template <typename M>
void writeMatrix(QDataStream& s, const M& m)
{
    s << static_cast<qint64>(m.rows()) << static_cast<qint64>(m.cols());
    s.writeRawData(reinterpret_cast<const char*>(m.data()), static_cast<int>(m.size() * sizeof(typename M::Scalar)));
}

template <typename M>
void readMatrix(QDataStream& s, M& m)
{
    qint64 r = 0, c = 0;
    s >> r >> c;
    if (r < 0 || c < 0 || r * c > (qint64 { 1 } << 36))
        throw Error(QStringLiteral("model snapshot is corrupt (matrix %1 x %2)").arg(r).arg(c));
    m.resize(r, c);
    const auto bytes = static_cast<int>(m.size() * sizeof(typename M::Scalar));
    if (s.readRawData(reinterpret_cast<char*>(m.data()), bytes) != bytes)
        throw Error(QStringLiteral("model snapshot is truncated"));
}

inline void writeCsr(QDataStream& s, const Csr& c)
{
    s << c.numRows << c.numCols;
    writeVector(s, c.offsets);
    writeVector(s, c.indices);
    writeVector(s, c.values);
}

inline void readCsr(QDataStream& s, Csr& c)
{
    s >> c.numRows >> c.numCols;
    readVector(s, c.offsets);
    readVector(s, c.indices);
    readVector(s, c.values);
    if (c.offsets.size() != static_cast<size_t>(c.numRows) + 1 || c.indices.size() != c.values.size())
        throw Error(QStringLiteral("model snapshot is corrupt (sparse matrix)"));
}

// A payload starts with a magic tag and a format version per algorithm.
inline void writeHeader(QDataStream& s, const char* tag, qint32 version)
{
    s.setByteOrder(QDataStream::LittleEndian);
    s << QByteArray(tag) << version;
}

inline void readHeader(QDataStream& s, const char* tag, qint32 version)
{
    s.setByteOrder(QDataStream::LittleEndian);
    QByteArray t;
    qint32 v = 0;
    s >> t >> v;
    if (t != QByteArray(tag) || v != version)
        throw Error(QStringLiteral("model snapshot is not a %1 v%2 payload").arg(QString::fromLatin1(tag)).arg(version));
}

} // namespace recwb::cf::io
