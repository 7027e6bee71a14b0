// omnitriage queue page: o opens the top case (marked in the page); the
// rest is plain forms and links.
