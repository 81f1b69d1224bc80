/**
 * The protocol's own sample (the Kassir 5 wiki, ReceiveData, "Пример успешного
 * получения пакета с файлом"; docs/FORMATS.md "The KKMTransfer service"), byte
 * for byte as the back office sends it: JSON with `errcode` as a string and
 * base64 wrapped with `\r\n` escapes every 64 characters. The wiki page wraps
 * the long line for print; those print breaks are not part of the answer.
 */
export const SEED_SAMPLE_RESPONSE = `{
"data":
"UEsDBBQAAAgIABuVPVAHI4ouFgAAABQAAAAOAAAAdjhfOTk2OV8xNS50eHR7v3u/\\r\\nsrKDg5qaiopKUIAPL5cyLxcAUEsBAi4DFAAACAgAG5U9UAcjii4WAAAAFAAAAA4A\\r\\nJAAAAAAAAAAAALSBAAAAAHY4Xzk5NjlfMTUudHh0CgAgAAAAAAABABgAgF1jfrrW\\r\\n1QGAXWN+utbVAYBdY3661tUBUEsFBgAAAAABAAEAYAAAAEIAAAAAAA==",
"errcode": "0",
"errmessage": "",
"packagetype": "spr"
}`;

/** The `data` string of the sample after JSON decoding (with real CR LF inside). */
export const SEED_SAMPLE_BASE64: string = (JSON.parse(SEED_SAMPLE_RESPONSE) as { data: string }).data;

/** The wiki's "nothing to send" answer. */
export const SEED_NOTHING_RESPONSE = `{
"data": "",
"errcode": "3",
"errmessage": "Не найдены данные для отправки"
}`;

/** What the sample's only entry, `v8_9969_15.txt`, holds: UTF-8 with BOM. */
export const SEED_SAMPLE_ENTRY = 'v8_9969_15.txt';
export const SEED_SAMPLE_CONTENT = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('##@@&&$$$RPL\r\n#\r\n', 'latin1')]);
