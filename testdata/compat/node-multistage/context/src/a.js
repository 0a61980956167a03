console.log('a')
